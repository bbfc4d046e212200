DROP TABLE cw_totp_last_step;
