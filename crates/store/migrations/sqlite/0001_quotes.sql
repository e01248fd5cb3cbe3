-- Quotes, one row each with its latest version; every version kept whole.
CREATE TABLE quote_numbers (
    tenant TEXT PRIMARY KEY,
    last BIGINT NOT NULL
);
CREATE TABLE quotes (
    tenant TEXT NOT NULL,
    number BIGINT NOT NULL,
    account TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    currency TEXT NOT NULL,
    total TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, number)
);
CREATE INDEX quotes_by_account ON quotes (tenant, account, number);
CREATE TABLE quote_versions (
    tenant TEXT NOT NULL,
    number BIGINT NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    total TEXT NOT NULL,
    rules_fingerprint TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    request BLOB NOT NULL,
    priced BLOB NOT NULL,
    PRIMARY KEY (tenant, number, version)
);
