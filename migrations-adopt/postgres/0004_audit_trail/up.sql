-- The audit trail's filters, newest first within each (as migrations/*/2026-12-01-000002).
-- CamCOPS already has _security_ip_use and its foreign key.
CREATE INDEX cw_ix__security_audit_source_id ON _security_audit (source, id);
CREATE INDEX cw_ix__security_audit_remote_addr_id ON _security_audit (remote_addr, id);
CREATE INDEX cw_ix__security_audit_user_id_id ON _security_audit (user_id, id);
CREATE INDEX cw_ix__security_audit_table_pk_id ON _security_audit (table_name, server_pk, id);
CREATE INDEX cw_ix__security_audit_server_pk_id ON _security_audit (server_pk, id);
