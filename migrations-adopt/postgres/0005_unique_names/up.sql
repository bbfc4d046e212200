-- Each index is created only when the data allows it: `upgrade-db` checks for duplicate
-- memberships and for names that differ only in case first, skips the index and warns if any
-- exist (CamCOPS' data is left as it is; the server checks in code in any case).
CREATE UNIQUE INDEX IF NOT EXISTS cw_ix__security_user_group_user_group ON _security_user_group (user_id, group_id);
CREATE UNIQUE INDEX IF NOT EXISTS cw_ix__security_users_username_lower ON _security_users (lower(username));
CREATE UNIQUE INDEX IF NOT EXISTS cw_ix__security_groups_name_lower ON _security_groups (lower(name));
