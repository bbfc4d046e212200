-- A user is in a group at most once.
CREATE UNIQUE INDEX ux__security_user_group_user_group ON _security_user_group (user_id, group_id);
-- Usernames and group names are unique regardless of case.
CREATE UNIQUE INDEX ux__security_users_username_lower ON _security_users (lower(username));
CREATE UNIQUE INDEX ux__security_groups_name_lower ON _security_groups (lower(name));
