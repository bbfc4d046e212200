CREATE INDEX cw_ix__security_user_group_user_id ON _security_user_group (user_id);
CREATE INDEX cw_ix__security_user_group_group_id ON _security_user_group (group_id);
