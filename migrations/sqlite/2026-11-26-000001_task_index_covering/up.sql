-- The list order index also carries the columns the commonest criteria test (patient for the
-- patient filters, group for visibility), so that walking it newest first needs no table reads.
DROP INDEX ix__task_index_created_batch;
CREATE INDEX ix__task_index_created_batch ON _task_index (when_created_utc, when_added_batch_utc, index_entry_pk, patient_pk, group_id);
