UPDATE _security_webviewer_sessions SET created_at_utc = COALESCE(last_activity_utc, now() AT TIME ZONE 'UTC') WHERE created_at_utc IS NULL;
ALTER TABLE _security_webviewer_sessions ALTER COLUMN created_at_utc SET NOT NULL;
