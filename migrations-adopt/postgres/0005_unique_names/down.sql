DROP INDEX IF EXISTS cw_ix__security_groups_name_lower;
DROP INDEX IF EXISTS cw_ix__security_users_username_lower;
DROP INDEX IF EXISTS cw_ix__security_user_group_user_group;
