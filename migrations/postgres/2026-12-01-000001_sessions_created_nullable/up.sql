-- created_at_utc is NULL for sessions CamCOPS itself made on a shared database (it does not
-- know the column): the same rule as on an adopted CamCOPS database (migrations-adopt/).
ALTER TABLE _security_webviewer_sessions ALTER COLUMN created_at_utc DROP NOT NULL;
