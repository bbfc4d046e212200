-- CamCOPS' intellectual-property settings of groups (`_security_groups.ip_use_id` with its
-- foreign key), and the indexes that keep the audit trail's filtered pages fast (newest
-- first within each filter).
CREATE TABLE _security_ip_use (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    clinical BOOL NOT NULL,
    commercial BOOL NOT NULL,
    educational BOOL NOT NULL,
    research BOOL NOT NULL
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- The foreign key's index is made explicitly, so that down.sql can remove it by name.
CREATE INDEX cw_ix__security_groups_ip_use_id ON _security_groups (ip_use_id);
ALTER TABLE _security_groups ADD CONSTRAINT fk__security_groups_ip_use_id FOREIGN KEY (ip_use_id) REFERENCES _security_ip_use (id);
CREATE INDEX cw_ix__security_audit_source_id ON _security_audit (source, id);
CREATE INDEX cw_ix__security_audit_remote_addr_id ON _security_audit (remote_addr, id);
-- No (user_id, id) index here: InnoDB's index for fk__security_audit_user_id already ends
-- with the primary key, and a new one could silently replace it.
CREATE INDEX cw_ix__security_audit_table_pk_id ON _security_audit (table_name, server_pk, id);
CREATE INDEX cw_ix__security_audit_server_pk_id ON _security_audit (server_pk, id);
