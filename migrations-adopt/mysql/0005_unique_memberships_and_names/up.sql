-- Created only when no user is in the same group twice: `upgrade-db` checks first, skips the
-- index and warns if any exist (CamCOPS' data is left as it is; the server checks in code in
-- any case). Names are already unique regardless of case here (utf8mb4_unicode_ci).
CREATE UNIQUE INDEX IF NOT EXISTS cw_ix__security_user_group_user_group ON _security_user_group (user_id, group_id);
