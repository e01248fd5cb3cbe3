-- Won orders: an accepted quote's exact lines and configurations, written
-- in the transaction that accepts it and never changed afterwards.
CREATE TABLE orders (
    tenant TEXT NOT NULL,
    number BIGINT NOT NULL,
    quote_version BIGINT NOT NULL,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    total TEXT NOT NULL,
    accepted_on TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    accepted_by TEXT NOT NULL,
    rules_fingerprint TEXT NOT NULL,
    request BLOB NOT NULL,
    priced BLOB NOT NULL,
    PRIMARY KEY (tenant, number)
);
CREATE INDEX orders_by_date ON orders (tenant, accepted_on, number);
CREATE INDEX orders_by_account ON orders (tenant, account, number);

-- Each priced line of an order (options of configured lines included),
-- for filters by product line and for the roll-down.
CREATE TABLE order_lines (
    tenant TEXT NOT NULL,
    number BIGINT NOT NULL,
    line_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    product_line TEXT NOT NULL,
    quantity TEXT NOT NULL,
    net TEXT NOT NULL,
    PRIMARY KEY (tenant, number, line_id)
);
CREATE INDEX order_lines_by_product_line ON order_lines (tenant, product_line, number);

CREATE TRIGGER orders_are_kept_update BEFORE UPDATE ON orders
BEGIN
    SELECT RAISE(ABORT, 'a won order is never changed');
END;
CREATE TRIGGER orders_are_kept_delete BEFORE DELETE ON orders
BEGIN
    SELECT RAISE(ABORT, 'a won order is never deleted');
END;
CREATE TRIGGER order_lines_are_kept_update BEFORE UPDATE ON order_lines
BEGIN
    SELECT RAISE(ABORT, 'a won order is never changed');
END;
CREATE TRIGGER order_lines_are_kept_delete BEFORE DELETE ON order_lines
BEGIN
    SELECT RAISE(ABORT, 'a won order is never deleted');
END;
