DROP INDEX ix__task_index_created_batch;
CREATE INDEX ix__task_index_created_batch ON _task_index (when_created_utc, when_added_batch_utc, index_entry_pk);
