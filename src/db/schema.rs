// @generated automatically by Diesel CLI.

diesel::table! {
    _idnum_definitions (which_idnum) {
        which_idnum -> Integer,
        description -> Nullable<Text>,
        short_description -> Nullable<Text>,
        validation_method -> Nullable<Text>,
    }
}

diesel::table! {
    _idnum_index (idnum_pk) {
        idnum_pk -> Integer,
        indexed_at_utc -> Timestamp,
        patient_pk -> Nullable<Integer>,
        which_idnum -> Integer,
        idnum_value -> Nullable<BigInt>,
    }
}

diesel::table! {
    _security_account_lockouts (id) {
        id -> Integer,
        username -> Text,
        locked_until -> Timestamp,
    }
}

diesel::table! {
    _security_audit (id) {
        id -> Integer,
        when_access_utc -> Timestamp,
        source -> Text,
        remote_addr -> Nullable<Text>,
        user_id -> Nullable<Integer>,
        device_id -> Nullable<Integer>,
        table_name -> Nullable<Text>,
        server_pk -> Nullable<Integer>,
        patient_server_pk -> Nullable<Integer>,
        details -> Nullable<Text>,
    }
}

diesel::table! {
    _security_devices (id) {
        id -> Integer,
        name -> Nullable<Text>,
        friendly_name -> Nullable<Text>,
        camcops_version -> Nullable<Text>,
        registered_by_user_id -> Nullable<Integer>,
        when_registered_utc -> Nullable<Timestamp>,
        last_upload_batch_utc -> Nullable<Timestamp>,
        currently_preserving -> Nullable<Bool>,
        ongoing_upload_batch_utc -> Nullable<Timestamp>,
        uploading_user_id -> Nullable<Integer>,
    }
}

diesel::table! {
    _security_group_group (group_id, can_see_group_id) {
        group_id -> Integer,
        can_see_group_id -> Integer,
    }
}

diesel::table! {
    _security_groups (id) {
        id -> Integer,
        name -> Text,
        description -> Nullable<Text>,
        upload_policy -> Nullable<Text>,
        finalize_policy -> Nullable<Text>,
        ip_use_id -> Nullable<Integer>,
    }
}

diesel::table! {
    _security_ip_use (id) {
        id -> Integer,
        clinical -> Bool,
        commercial -> Bool,
        educational -> Bool,
        research -> Bool,
    }
}

diesel::table! {
    _security_login_failures (id) {
        id -> Integer,
        username -> Text,
        login_failure_at -> Timestamp,
    }
}

diesel::table! {
    _security_user_group (id) {
        id -> Integer,
        user_id -> Nullable<Integer>,
        group_id -> Nullable<Integer>,
        groupadmin -> Nullable<Bool>,
        may_upload -> Nullable<Bool>,
        may_register_devices -> Nullable<Bool>,
        may_use_webviewer -> Nullable<Bool>,
        view_all_patients_when_unfiltered -> Nullable<Bool>,
        may_dump_data -> Nullable<Bool>,
        may_run_reports -> Nullable<Bool>,
        may_add_notes -> Nullable<Bool>,
        may_manage_patients -> Nullable<Bool>,
        may_email_patients -> Nullable<Bool>,
    }
}

diesel::table! {
    _security_users (id) {
        id -> Integer,
        username -> Text,
        fullname -> Nullable<Text>,
        email -> Nullable<Text>,
        phone_number -> Nullable<Text>,
        hashedpw -> Text,
        mfa_secret_key -> Nullable<Text>,
        mfa_method -> Text,
        hotp_counter -> Integer,
        last_login_at_utc -> Nullable<Timestamp>,
        last_password_change_utc -> Nullable<Timestamp>,
        superuser -> Nullable<Bool>,
        must_change_password -> Nullable<Bool>,
        when_agreed_terms_of_use -> Nullable<Text>,
        upload_group_id -> Nullable<Integer>,
        language -> Nullable<Text>,
        auto_generated -> Bool,
        single_patient_pk -> Nullable<Integer>,
    }
}

diesel::table! {
    _security_webviewer_sessions (id) {
        id -> Integer,
        token -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        user_id -> Nullable<Integer>,
        last_activity_utc -> Nullable<Timestamp>,
        number_to_view -> Nullable<Integer>,
        task_filter_id -> Nullable<Integer>,
        is_api_session -> Nullable<Bool>,
        form_state -> Nullable<Text>,
        created_at_utc -> Nullable<Timestamp>,
    }
}

diesel::table! {
    _server_settings (id) {
        id -> Integer,
        database_title -> Nullable<Text>,
        last_dummy_login_failure_clearance_at_utc -> Nullable<Timestamp>,
    }
}

diesel::table! {
    _task_filters (id) {
        id -> Integer,
        task_types -> Nullable<Text>,
        tasks_offering_trackers_only -> Nullable<Bool>,
        tasks_with_patient_only -> Nullable<Bool>,
        surname -> Nullable<Text>,
        forename -> Nullable<Text>,
        dob -> Nullable<Date>,
        sex -> Nullable<Text>,
        idnum_criteria -> Nullable<Text>,
        device_ids -> Nullable<Text>,
        user_ids -> Nullable<Text>,
        group_ids -> Nullable<Text>,
        start_datetime_iso8601 -> Nullable<Text>,
        end_datetime_iso8601 -> Nullable<Text>,
        text_contents -> Nullable<Text>,
        complete_only -> Nullable<Bool>,
    }
}

diesel::table! {
    _task_index (index_entry_pk) {
        index_entry_pk -> Integer,
        indexed_at_utc -> Timestamp,
        task_table_name -> Nullable<Text>,
        task_pk -> Nullable<Integer>,
        patient_pk -> Nullable<Integer>,
        device_id -> Integer,
        era -> Text,
        when_created_utc -> Timestamp,
        when_created_iso -> Text,
        when_added_batch_utc -> Timestamp,
        adding_user_id -> Nullable<Integer>,
        group_id -> Integer,
        task_is_complete -> Bool,
    }
}

diesel::table! {
    cw_mfa_recovery_codes (id) {
        id -> Integer,
        user_id -> Integer,
        code_hash -> Text,
        created_at_utc -> Timestamp,
        used_at_utc -> Nullable<Timestamp>,
    }
}

diesel::table! {
    cw_totp_last_step (user_id) {
        user_id -> Integer,
        last_step -> BigInt,
    }
}

diesel::table! {
    patient (_pk) {
        _pk -> Integer,
        id -> Integer,
        forename -> Nullable<Text>,
        surname -> Nullable<Text>,
        dob -> Nullable<Date>,
        sex -> Nullable<Text>,
        _device_id -> Integer,
        _era -> Text,
        _current -> Bool,
        _group_id -> Integer,
    }
}

diesel::joinable!(_idnum_index -> _idnum_definitions (which_idnum));
diesel::joinable!(_idnum_index -> patient (patient_pk));
diesel::joinable!(_security_audit -> _security_devices (device_id));
diesel::joinable!(_security_audit -> _security_users (user_id));
diesel::joinable!(_security_user_group -> _security_groups (group_id));
diesel::joinable!(_security_user_group -> _security_users (user_id));
diesel::joinable!(_security_users -> _security_groups (upload_group_id));
diesel::joinable!(_security_users -> patient (single_patient_pk));
diesel::joinable!(_security_webviewer_sessions -> _security_users (user_id));
diesel::joinable!(_security_webviewer_sessions -> _task_filters (task_filter_id));
diesel::joinable!(_task_index -> _security_devices (device_id));
diesel::joinable!(_task_index -> _security_groups (group_id));
diesel::joinable!(_task_index -> _security_users (adding_user_id));
diesel::joinable!(_task_index -> patient (patient_pk));
diesel::joinable!(cw_mfa_recovery_codes -> _security_users (user_id));
diesel::joinable!(cw_totp_last_step -> _security_users (user_id));
diesel::joinable!(patient -> _security_devices (_device_id));
diesel::joinable!(patient -> _security_groups (_group_id));

diesel::allow_tables_to_appear_in_same_query!(
    _idnum_definitions,
    _idnum_index,
    _security_account_lockouts,
    _security_audit,
    _security_devices,
    _security_group_group,
    _security_groups,
    _security_ip_use,
    _security_login_failures,
    _security_user_group,
    _security_users,
    _security_webviewer_sessions,
    _server_settings,
    _task_filters,
    _task_index,
    cw_mfa_recovery_codes,
    cw_totp_last_step,
    patient,
);
