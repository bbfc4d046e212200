-- A user is in a group at most once.
CREATE UNIQUE INDEX ux__security_user_group_user_group ON _security_user_group (user_id, group_id);
-- Usernames and group names are unique regardless of case (ASCII names only are allowed).
CREATE UNIQUE INDEX ux__security_users_username_nocase ON _security_users (username COLLATE NOCASE);
CREATE UNIQUE INDEX ux__security_groups_name_nocase ON _security_groups (name COLLATE NOCASE);
