-- Each decision on an approval seat: taken by an approver (for itself or
-- standing in for a member), or carried over from an earlier round when
-- the figures approved still hold. `round` is the version the submit made.
CREATE TABLE approval_decisions (
    tenant TEXT NOT NULL,
    number BIGINT NOT NULL,
    round BIGINT NOT NULL,
    version BIGINT NOT NULL,
    seat TEXT NOT NULL,
    member TEXT NOT NULL,
    approver TEXT NOT NULL,
    role TEXT NOT NULL,
    decision TEXT NOT NULL,
    figures TEXT NOT NULL,
    currency TEXT NOT NULL,
    comment TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (tenant, number, version, seat, member)
);

-- An approver's decisions handed to another for a date range.
CREATE TABLE delegations (
    tenant TEXT NOT NULL,
    from_principal TEXT NOT NULL,
    to_principal TEXT NOT NULL,
    starts TEXT NOT NULL,
    ends TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant, from_principal, starts)
);
CREATE INDEX delegations_to ON delegations (tenant, to_principal);
