-- A user is in a group at most once. (Usernames and group names are already unique regardless
-- of case: their unique indexes use the case-insensitive utf8mb4_unicode_ci collation.)
CREATE UNIQUE INDEX ux__security_user_group_user_group ON _security_user_group (user_id, group_id);
