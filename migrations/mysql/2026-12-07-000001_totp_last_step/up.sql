-- The last TOTP time step accepted for each user, so that an accepted code cannot be used
-- again within its window. A table of camcops-web's own: CamCOPS' `hotp_counter` belongs
-- to its HOTP methods (a TOTP user keeps it for a later switch to e-mail or SMS codes), and
-- CamCOPS neither reads nor writes this table. Deleting a user deletes their row.
CREATE TABLE cw_totp_last_step (
    user_id INTEGER NOT NULL PRIMARY KEY,
    last_step BIGINT NOT NULL,
    CONSTRAINT fk_cw_totp_last_step_user_id FOREIGN KEY (user_id) REFERENCES _security_users (id) ON DELETE CASCADE
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
