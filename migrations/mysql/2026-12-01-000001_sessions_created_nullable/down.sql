UPDATE _security_webviewer_sessions SET created_at_utc = COALESCE(last_activity_utc, UTC_TIMESTAMP(6)) WHERE created_at_utc IS NULL;
ALTER TABLE _security_webviewer_sessions MODIFY created_at_utc DATETIME(6) NOT NULL;
