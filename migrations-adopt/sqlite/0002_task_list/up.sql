CREATE INDEX cw_ix__task_index_created_batch ON _task_index (when_created_utc, when_added_batch_utc, index_entry_pk, patient_pk, group_id);
CREATE INDEX cw_ix__task_index_patient_group ON _task_index (patient_pk, group_id);
CREATE INDEX cw_ix__task_index_group_created ON _task_index (group_id, when_created_utc);
CREATE INDEX cw_ix__task_index_adding_user_id ON _task_index (adding_user_id);
CREATE INDEX cw_ix__idnum_index_which_idnum_value ON _idnum_index (which_idnum, idnum_value);
CREATE INDEX cw_ix_patient_upper_surname ON patient (upper(surname));
CREATE INDEX cw_ix_patient_upper_forename ON patient (upper(forename));
