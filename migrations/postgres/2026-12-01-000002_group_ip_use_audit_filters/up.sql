-- CamCOPS' intellectual-property settings of groups (`_security_groups.ip_use_id` with its
-- foreign key), and the indexes that keep the audit trail's filtered pages fast (newest
-- first within each filter).
CREATE TABLE _security_ip_use (
    id SERIAL PRIMARY KEY,
    clinical BOOLEAN NOT NULL,
    commercial BOOLEAN NOT NULL,
    educational BOOLEAN NOT NULL,
    research BOOLEAN NOT NULL
);
ALTER TABLE _security_groups ADD CONSTRAINT fk__security_groups_ip_use_id FOREIGN KEY (ip_use_id) REFERENCES _security_ip_use (id);
CREATE INDEX cw_ix__security_audit_source_id ON _security_audit (source, id);
CREATE INDEX cw_ix__security_audit_remote_addr_id ON _security_audit (remote_addr, id);
CREATE INDEX cw_ix__security_audit_user_id_id ON _security_audit (user_id, id);
CREATE INDEX cw_ix__security_audit_table_pk_id ON _security_audit (table_name, server_pk, id);
CREATE INDEX cw_ix__security_audit_server_pk_id ON _security_audit (server_pk, id);
