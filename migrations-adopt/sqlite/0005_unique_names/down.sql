DROP INDEX IF EXISTS cw_ix__security_groups_name_nocase;
DROP INDEX IF EXISTS cw_ix__security_users_username_nocase;
DROP INDEX IF EXISTS cw_ix__security_user_group_user_group;
