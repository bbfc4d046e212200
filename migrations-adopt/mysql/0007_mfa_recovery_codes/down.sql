DROP TABLE cw_mfa_recovery_codes;
