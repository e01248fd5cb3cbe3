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
    request BYTEA NOT NULL,
    priced BYTEA NOT NULL,
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

CREATE FUNCTION quotecast_orders_are_kept() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a won order is never changed or deleted';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER orders_are_kept BEFORE UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION quotecast_orders_are_kept();
CREATE TRIGGER order_lines_are_kept BEFORE UPDATE OR DELETE ON order_lines
    FOR EACH ROW EXECUTE FUNCTION quotecast_orders_are_kept();
