-- What made each version (a save, or a status change) and the comment with it.
ALTER TABLE quote_versions ADD COLUMN action TEXT NOT NULL DEFAULT 'save';
ALTER TABLE quote_versions ADD COLUMN comment TEXT NOT NULL DEFAULT '';

-- Every action, appended in the transaction of the change it records and
-- never changed: each entry's hash covers the entry and the hash before it,
-- so an entry altered or removed behind the store's back breaks the chain.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    tenant TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    quote_number BIGINT NOT NULL,
    quote_version BIGINT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_by_quote ON audit_log (tenant, quote_number, seq);

-- The chain's last entry: writers take its row in turn.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TRIGGER audit_log_is_append_only_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_is_append_only_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
