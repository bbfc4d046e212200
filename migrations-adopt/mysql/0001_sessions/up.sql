-- No indexes on user_id and task_filter_id: InnoDB made one for each foreign key, and a new
-- index that could serve the key would make it drop its own, changing CamCOPS' catalogue.
ALTER TABLE _security_webviewer_sessions ADD COLUMN created_at_utc DATETIME(6) NULL;
CREATE INDEX cw_ix__security_webviewer_sessions_last_activity_utc ON _security_webviewer_sessions (last_activity_utc);
