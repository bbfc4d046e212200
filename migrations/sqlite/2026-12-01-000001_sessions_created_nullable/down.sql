CREATE TABLE _security_webviewer_sessions_new (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    token VARCHAR(88),
    ip_address VARCHAR(45),
    user_id INTEGER,
    last_activity_utc TIMESTAMP,
    number_to_view INTEGER,
    task_filter_id INTEGER,
    is_api_session BOOLEAN,
    form_state TEXT,
    created_at_utc TIMESTAMP NOT NULL,
    CONSTRAINT fk__security_webviewer_sessions_user_id FOREIGN KEY (user_id) REFERENCES _security_users (id) ON DELETE CASCADE,
    CONSTRAINT fk__security_webviewer_sessions_task_filter_id FOREIGN KEY (task_filter_id) REFERENCES _task_filters (id)
);
INSERT INTO _security_webviewer_sessions_new (id, token, ip_address, user_id, last_activity_utc, number_to_view, task_filter_id, is_api_session, form_state, created_at_utc)
    SELECT id, token, ip_address, user_id, last_activity_utc, number_to_view, task_filter_id, is_api_session, form_state, COALESCE(created_at_utc, last_activity_utc, strftime('%Y-%m-%d %H:%M:%f', 'now')) FROM _security_webviewer_sessions;
-- Keep the id sequence, so that ids of deleted sessions are not handed out again.
DELETE FROM sqlite_sequence WHERE name = '_security_webviewer_sessions_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT '_security_webviewer_sessions_new', seq FROM sqlite_sequence WHERE name = '_security_webviewer_sessions';
DROP TABLE _security_webviewer_sessions;
ALTER TABLE _security_webviewer_sessions_new RENAME TO _security_webviewer_sessions;
CREATE INDEX ix__security_webviewer_sessions_user_id ON _security_webviewer_sessions (user_id);
CREATE INDEX ix__security_webviewer_sessions_last_activity_utc ON _security_webviewer_sessions (last_activity_utc);
CREATE INDEX ix__security_webviewer_sessions_task_filter_id ON _security_webviewer_sessions (task_filter_id);
