-- No index on adding_user_id (InnoDB's own foreign-key index serves it: see 0001), none on
-- upper(surname) (utf8mb4_unicode_ci compares case-insensitively; CamCOPS' ix_patient_surname
-- serves).
CREATE INDEX cw_ix__task_index_created_batch ON _task_index (when_created_utc, when_added_batch_utc, index_entry_pk, patient_pk, group_id);
CREATE INDEX cw_ix__task_index_patient_group ON _task_index (patient_pk, group_id);
CREATE INDEX cw_ix__task_index_group_created ON _task_index (group_id, when_created_utc);
CREATE INDEX cw_ix__idnum_index_which_idnum_value ON _idnum_index (which_idnum, idnum_value);
