-- One-time recovery codes of a user's second factor (camcops-web's own table; CamCOPS has
-- none and never reads it). Only the SHA-256 of each code is stored; a used code keeps its row
-- (used_at_utc set) until new codes replace the set. Rows go with their user.
CREATE TABLE cw_mfa_recovery_codes (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    code_hash VARCHAR(64) NOT NULL,
    created_at_utc TIMESTAMP NOT NULL,
    used_at_utc TIMESTAMP,
    CONSTRAINT fk_cw_mfa_recovery_codes_user_id FOREIGN KEY (user_id) REFERENCES _security_users (id) ON DELETE CASCADE
);
CREATE INDEX cw_ix_cw_mfa_recovery_codes_user_id ON cw_mfa_recovery_codes (user_id);
