-- Reverts the initial camcops-web schema.
DROP TABLE _security_audit;
DROP TABLE _server_settings;
DROP TABLE _security_account_lockouts;
DROP TABLE _security_login_failures;
DROP TABLE _security_webviewer_sessions;
DROP TABLE _task_filters;
DROP TABLE _task_index;
DROP TABLE _idnum_index;
DROP TABLE patient;
DROP TABLE _idnum_definitions;
DROP TABLE _security_devices;
DROP TABLE _security_group_group;
DROP TABLE _security_user_group;
DROP TABLE _security_users;
DROP TABLE _security_groups;
