-- camcops-web schema: table and column names as the CamCOPS server (see README).

CREATE TABLE _security_groups (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(191) NOT NULL,
    description VARCHAR(255),
    upload_policy VARCHAR(255),
    finalize_policy VARCHAR(255),
    ip_use_id INTEGER
);
CREATE UNIQUE INDEX ix__security_groups_name ON _security_groups (name);

CREATE TABLE _security_users (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    username VARCHAR(191) NOT NULL,
    fullname VARCHAR(255),
    email VARCHAR(255),
    phone_number VARCHAR(128),
    hashedpw VARCHAR(60) NOT NULL,
    mfa_secret_key VARCHAR(32),
    mfa_method VARCHAR(20) NOT NULL DEFAULT 'no_mfa',
    hotp_counter INTEGER NOT NULL DEFAULT 0,
    last_login_at_utc TIMESTAMP,
    last_password_change_utc TIMESTAMP,
    superuser BOOLEAN,
    must_change_password BOOLEAN,
    when_agreed_terms_of_use VARCHAR(32),
    upload_group_id INTEGER,
    language VARCHAR(6),
    auto_generated BOOLEAN NOT NULL,
    single_patient_pk INTEGER,
    CONSTRAINT fk__security_users_upload_group_id FOREIGN KEY (upload_group_id) REFERENCES _security_groups (id),
    CONSTRAINT fk__security_users_single_patient_pk FOREIGN KEY (single_patient_pk) REFERENCES patient (_pk) ON DELETE SET NULL
);
CREATE UNIQUE INDEX ix__security_users_username ON _security_users (username);

CREATE TABLE _security_user_group (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER,
    group_id INTEGER,
    groupadmin BOOLEAN,
    may_upload BOOLEAN,
    may_register_devices BOOLEAN,
    may_use_webviewer BOOLEAN,
    view_all_patients_when_unfiltered BOOLEAN,
    may_dump_data BOOLEAN,
    may_run_reports BOOLEAN,
    may_add_notes BOOLEAN,
    may_manage_patients BOOLEAN,
    may_email_patients BOOLEAN,
    CONSTRAINT fk__security_user_group_user_id FOREIGN KEY (user_id) REFERENCES _security_users (id),
    CONSTRAINT fk__security_user_group_group_id FOREIGN KEY (group_id) REFERENCES _security_groups (id)
);
CREATE INDEX ix__security_user_group_user_id ON _security_user_group (user_id);
CREATE INDEX ix__security_user_group_group_id ON _security_user_group (group_id);

CREATE TABLE _security_group_group (
    group_id INTEGER NOT NULL,
    can_see_group_id INTEGER NOT NULL,
    CONSTRAINT pk__security_group_group PRIMARY KEY (group_id, can_see_group_id),
    CONSTRAINT fk__security_group_group_group_id FOREIGN KEY (group_id) REFERENCES _security_groups (id),
    CONSTRAINT fk__security_group_group_can_see_group_id FOREIGN KEY (can_see_group_id) REFERENCES _security_groups (id)
);

CREATE TABLE _security_devices (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(191),
    friendly_name VARCHAR(255),
    camcops_version VARCHAR(32),
    registered_by_user_id INTEGER,
    when_registered_utc TIMESTAMP,
    last_upload_batch_utc TIMESTAMP,
    currently_preserving BOOLEAN,
    ongoing_upload_batch_utc TIMESTAMP,
    uploading_user_id INTEGER,
    CONSTRAINT fk__security_devices_registered_by_user_id FOREIGN KEY (registered_by_user_id) REFERENCES _security_users (id),
    CONSTRAINT fk__security_devices_uploading_user_id FOREIGN KEY (uploading_user_id) REFERENCES _security_users (id)
);
CREATE UNIQUE INDEX ix__security_devices_name ON _security_devices (name);

CREATE TABLE _idnum_definitions (
    which_idnum INTEGER NOT NULL PRIMARY KEY,
    description VARCHAR(255),
    short_description VARCHAR(255),
    validation_method VARCHAR(255)
);

CREATE TABLE patient (
    _pk INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id INTEGER NOT NULL,
    forename VARCHAR(255),
    surname VARCHAR(255),
    dob DATE,
    sex VARCHAR(1),
    _device_id INTEGER NOT NULL,
    _era VARCHAR(32) NOT NULL,
    _current BOOLEAN NOT NULL,
    _group_id INTEGER NOT NULL,
    CONSTRAINT fk_patient__device_id FOREIGN KEY (_device_id) REFERENCES _security_devices (id),
    CONSTRAINT fk_patient__group_id FOREIGN KEY (_group_id) REFERENCES _security_groups (id)
);
CREATE INDEX ix_patient_surname ON patient (surname);
CREATE INDEX ix_patient_forename ON patient (forename);
CREATE INDEX ix_patient_dob ON patient (dob);
CREATE INDEX ix_patient_upper_surname ON patient (upper(surname));
CREATE INDEX ix_patient_upper_forename ON patient (upper(forename));

CREATE TABLE _idnum_index (
    idnum_pk INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    indexed_at_utc TIMESTAMP NOT NULL,
    patient_pk INTEGER,
    which_idnum INTEGER NOT NULL,
    idnum_value BIGINT,
    CONSTRAINT fk__idnum_index_patient_pk FOREIGN KEY (patient_pk) REFERENCES patient (_pk),
    CONSTRAINT fk__idnum_index_which_idnum FOREIGN KEY (which_idnum) REFERENCES _idnum_definitions (which_idnum)
);
CREATE INDEX ix__idnum_index_patient_pk ON _idnum_index (patient_pk);
CREATE INDEX ix__idnum_index_which_idnum ON _idnum_index (which_idnum, idnum_value);

CREATE TABLE _task_index (
    index_entry_pk INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    indexed_at_utc TIMESTAMP NOT NULL,
    task_table_name VARCHAR(128),
    task_pk INTEGER,
    patient_pk INTEGER,
    device_id INTEGER NOT NULL,
    era VARCHAR(32) NOT NULL,
    when_created_utc TIMESTAMP NOT NULL,
    when_created_iso VARCHAR(32) NOT NULL,
    when_added_batch_utc TIMESTAMP NOT NULL,
    adding_user_id INTEGER,
    group_id INTEGER NOT NULL,
    task_is_complete BOOLEAN NOT NULL,
    CONSTRAINT fk__task_index_patient_pk FOREIGN KEY (patient_pk) REFERENCES patient (_pk),
    CONSTRAINT fk__task_index_device_id FOREIGN KEY (device_id) REFERENCES _security_devices (id),
    CONSTRAINT fk__task_index_adding_user_id FOREIGN KEY (adding_user_id) REFERENCES _security_users (id),
    CONSTRAINT fk__task_index_group_id FOREIGN KEY (group_id) REFERENCES _security_groups (id)
);
CREATE INDEX ix__task_index_task_table_name ON _task_index (task_table_name);
CREATE INDEX ix__task_index_task_pk ON _task_index (task_pk);
CREATE INDEX ix__task_index_patient_pk ON _task_index (patient_pk);
CREATE INDEX ix__task_index_device_id ON _task_index (device_id);
CREATE INDEX ix__task_index_era ON _task_index (era);
CREATE INDEX ix__task_index_when_created_utc ON _task_index (when_created_utc);
CREATE INDEX ix__task_index_when_created_iso ON _task_index (when_created_iso);
CREATE INDEX ix__task_index_group_id ON _task_index (group_id);
CREATE INDEX ix__task_index_group_created ON _task_index (group_id, when_created_utc);
-- The list order (newest first) straight from an index; restricted users' counts index-only;
-- the adding-user filter.
CREATE INDEX ix__task_index_created_batch ON _task_index (when_created_utc, when_added_batch_utc, index_entry_pk);
CREATE INDEX ix__task_index_patient_group ON _task_index (patient_pk, group_id);
CREATE INDEX ix__task_index_adding_user_id ON _task_index (adding_user_id);

CREATE TABLE _task_filters (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    task_types TEXT,
    tasks_offering_trackers_only BOOLEAN,
    tasks_with_patient_only BOOLEAN,
    surname VARCHAR(255),
    forename VARCHAR(255),
    dob DATE,
    sex VARCHAR(1),
    idnum_criteria TEXT,
    device_ids TEXT,
    user_ids TEXT,
    group_ids TEXT,
    start_datetime_iso8601 VARCHAR(32),
    end_datetime_iso8601 VARCHAR(32),
    text_contents TEXT,
    complete_only BOOLEAN
);

CREATE TABLE _security_webviewer_sessions (
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
CREATE INDEX ix__security_webviewer_sessions_user_id ON _security_webviewer_sessions (user_id);
CREATE INDEX ix__security_webviewer_sessions_last_activity_utc ON _security_webviewer_sessions (last_activity_utc);
CREATE INDEX ix__security_webviewer_sessions_task_filter_id ON _security_webviewer_sessions (task_filter_id);

CREATE TABLE _security_login_failures (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    username VARCHAR(191) NOT NULL,
    login_failure_at TIMESTAMP NOT NULL
);
CREATE INDEX ix__security_login_failures_username ON _security_login_failures (username);
CREATE INDEX ix__security_login_failures_login_failure_at ON _security_login_failures (login_failure_at);

CREATE TABLE _security_account_lockouts (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    username VARCHAR(191) NOT NULL,
    locked_until TIMESTAMP NOT NULL
);
CREATE INDEX ix__security_account_lockouts_username ON _security_account_lockouts (username);
CREATE INDEX ix__security_account_lockouts_locked_until ON _security_account_lockouts (locked_until);

CREATE TABLE _server_settings (
    id INTEGER NOT NULL PRIMARY KEY,
    database_title VARCHAR(255),
    last_dummy_login_failure_clearance_at_utc TIMESTAMP
);
INSERT INTO _server_settings (id, database_title) VALUES (1, 'CamCOPS');

CREATE TABLE _security_audit (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    when_access_utc TIMESTAMP NOT NULL,
    source VARCHAR(20) NOT NULL,
    remote_addr VARCHAR(45),
    user_id INTEGER,
    device_id INTEGER,
    table_name VARCHAR(128),
    server_pk INTEGER,
    patient_server_pk INTEGER,
    details TEXT,
    CONSTRAINT fk__security_audit_user_id FOREIGN KEY (user_id) REFERENCES _security_users (id) ON DELETE SET NULL,
    CONSTRAINT fk__security_audit_device_id FOREIGN KEY (device_id) REFERENCES _security_devices (id)
);
CREATE INDEX ix__security_audit_when_access_utc ON _security_audit (when_access_utc);
