"""The baseline for demandbench's `duckdb` scenario: the same expected
explosion and netting in DuckDB SQL, over the Parquet files demandbench
writes (demand lines, BOM lines with the parent's lead time, items).

    python3 benches/baseline/demand_query.py DIR --as-of YYYY-MM-DD [--runs N]

Demand is expected quantity (quantity x probability), snapped to its
week's need date (the week's Monday, not before the plan date) as
quotecast buckets it; a recursive CTE explodes it through every BOM path,
each component needed its parent's lead time earlier (before the plan
date: due now); requirements are summed per item and week and netted
lot-for-lot against nothing on hand (cumulative window). Prints each run's
time, the totals to compare with quotecast's, and the peak memory; each
plan from the Parquet files, then from tables read into DuckDB's memory
first (quotecast is handed its lines in memory: the read is not timed).

It also nets as quotecast's plan does (`run_mrp`): level by level, lot
sizes (minimum, multiple) carried in projected stock by a recursive CTE,
components needed a lead time before their parent's order; with
--orders and --units it checks that the planned orders and their units
are quotecast's.

With --pegging it also pegs, as quotecast's plan does: every deal line's
expected units of every item and week (the explosion kept per line), the
20 largest per item-week kept in a table, with each one's share.
"""
import argparse
import resource
import time


def run_pegged(directory, as_of):
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    started = time.perf_counter()
    con.execute(
        f"""
        CREATE TEMP TABLE pegs AS
        WITH RECURSIVE
        lines AS (
            SELECT deal, sku,
                   greatest(date_trunc('week', need_date)::DATE, DATE '{as_of}') AS day,
                   quantity * probability AS qty
            FROM read_parquet('{directory}/demand.parquet')
        ),
        bom AS (SELECT * FROM read_parquet('{directory}/bom.parquet')),
        explode(deal, sku, item, day, qty) AS (
            SELECT deal, sku, sku, day, qty FROM lines
            UNION ALL
            SELECT e.deal, e.sku, b.component, (e.day - b.parent_lead_days)::DATE,
                   e.qty * b.quantity_per
            FROM explode e JOIN bom b ON b.parent = e.item
        ),
        per_line AS (
            SELECT item,
                   greatest(date_trunc('week', day)::DATE,
                            date_trunc('week', DATE '{as_of}')::DATE) AS bucket,
                   deal, sku, sum(qty) AS units
            FROM explode GROUP BY ALL
        ),
        ranked AS (
            SELECT *,
                   row_number() OVER (PARTITION BY item, bucket ORDER BY units DESC, deal, sku) AS rank,
                   sum(units) OVER (PARTITION BY item, bucket) AS total
            FROM per_line
        )
        SELECT item, bucket, deal, sku, units, units / total AS share, total
        FROM ranked WHERE rank <= 20
        """
    )
    totals = con.execute(
        """
        WITH gross AS (
            SELECT item, bucket, any_value(total) AS gross FROM pegs GROUP BY ALL
        ),
        netted AS (
            SELECT item, bucket, gross,
                   greatest(0, sum(gross) OVER w) - greatest(0, sum(gross) OVER w - gross) AS net
            FROM gross
            WINDOW w AS (PARTITION BY item ORDER BY bucket ROWS UNBOUNDED PRECEDING)
        )
        SELECT (SELECT count(*) FROM pegs),
               sum(gross) FILTER (WHERE item LIKE 'L2-%'),
               sum(ceil(net)) FILTER (WHERE item LIKE 'L2-%')
        FROM netted
        """
    ).fetchone()
    return time.perf_counter() - started, totals


def run(directory, as_of, loaded):
    """One plan: from the Parquet files, or with `loaded` from tables
    read into DuckDB's memory beforehand (as quotecast's lines are)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    lines = f"read_parquet('{directory}/demand.parquet')"
    structure = f"read_parquet('{directory}/bom.parquet')"
    if loaded:
        con.execute(f"CREATE TABLE lines AS SELECT * FROM {lines}")
        con.execute(f"CREATE TABLE structure AS SELECT * FROM {structure}")
        lines, structure = "lines", "structure"
    started = time.perf_counter()
    totals = con.execute(
        f"""
        WITH RECURSIVE
        demand AS (
            SELECT sku AS item,
                   greatest(date_trunc('week', need_date)::DATE, DATE '{as_of}') AS day,
                   sum(quantity * probability) AS qty
            FROM {lines}
            GROUP BY ALL
        ),
        bom AS (SELECT * FROM {structure}),
        explode(item, day, qty) AS (
            SELECT item, day, qty FROM demand
            UNION ALL
            SELECT b.component, (e.day - b.parent_lead_days)::DATE, e.qty * b.quantity_per
            FROM explode e JOIN bom b ON b.parent = e.item
        ),
        gross AS (
            SELECT item,
                   greatest(date_trunc('week', day)::DATE,
                            date_trunc('week', DATE '{as_of}')::DATE) AS bucket,
                   sum(qty) AS gross
            FROM explode GROUP BY ALL
        ),
        netted AS (
            SELECT item, bucket, gross,
                   greatest(0, sum(gross) OVER w) - greatest(0, sum(gross) OVER w - gross) AS net
            FROM gross
            WINDOW w AS (PARTITION BY item ORDER BY bucket ROWS UNBOUNDED PRECEDING)
        )
        SELECT count(*) AS rows,
               sum(gross) FILTER (WHERE item LIKE 'L2-%') AS leaf_gross,
               sum(ceil(net)) FILTER (WHERE item LIKE 'L2-%') AS leaf_planned
        FROM netted
        """
    ).fetchone()
    return time.perf_counter() - started, totals


def run_mrp(directory, as_of, loaded, buckets=52):
    """The plan's own netting, level by level as quotecast nets it: each
    low-level code's gross requirements per item and week (with the
    earliest day needed), netted bucket by bucket in a recursive CTE
    that carries projected stock, so an order rounded up to the item's
    minimum and order multiple covers later weeks; each order's
    components needed its lead time before it is due, as requirements of
    the deeper levels. The planned orders and every level's gross
    requirements are kept in tables, as quotecast's plan keeps its rows.
    Returns the time and (orders, units ordered on every level, units
    ordered on the last level)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    lines = f"read_parquet('{directory}/demand.parquet')"
    structure = f"read_parquet('{directory}/bom.parquet')"
    items = f"read_parquet('{directory}/items.parquet')"
    if loaded:
        for name, source in (("lines", lines), ("structure", structure), ("items", items)):
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {source}")
        lines, structure, items = "lines", "structure", "items"
    deepest = con.execute(f"SELECT max(level) FROM {items}").fetchone()[0]
    started = time.perf_counter()
    as_of = f"DATE '{as_of}'"
    end = f"(date_trunc('week', {as_of}) + INTERVAL {7 * buckets} DAY)::DATE"
    # A shortage's order: the net requirement rounded up at 6 places, at
    # least the minimum, a whole number of order multiples.
    con.execute(
        """
        CREATE MACRO net_of(shortage) AS
            CASE WHEN shortage > 1e-9 THEN ceil(shortage * 1e6) / 1e6 ELSE 0 END;
        CREATE MACRO lot(shortage, least, multiple) AS
            CASE WHEN shortage > 1e-9
                 THEN ceil(greatest(net_of(shortage), least) / multiple) * multiple
                 ELSE 0 END;
        """
    )
    # Requirements by the day needed (before the plan date: on it).
    con.execute(
        f"""
        CREATE TEMP TABLE requirements AS
        SELECT l.sku AS item, i.level,
               greatest(date_trunc('week', l.need_date)::DATE, {as_of}) AS day,
               sum(l.quantity * l.probability) AS qty
        FROM {lines} l JOIN {items} i ON i.item = l.sku
        WHERE l.need_date < {end}
        GROUP BY ALL
        """
    )
    con.execute(
        "CREATE TEMP TABLE orders (item VARCHAR, level INTEGER, bucket DATE, need_date DATE, "
        "release_date DATE, net DOUBLE, qty DOUBLE)"
    )
    con.execute(
        "CREATE TEMP TABLE gross (item VARCHAR, level INTEGER, bucket DATE, need_date DATE, gross DOUBLE)"
    )
    for level in range(deepest + 1):
        con.execute(
            f"""
            INSERT INTO gross
            SELECT item, level, date_trunc('week', day)::DATE, min(day), sum(qty)
            FROM requirements WHERE level = {level} AND day < {end} GROUP BY ALL
            """
        )
        con.execute(
            f"""
            INSERT INTO orders
            WITH RECURSIVE
            g AS (
                SELECT g.item, g.bucket, g.need_date, g.gross, i.min_order, i.order_multiple,
                       i.lead_days, row_number() OVER (PARTITION BY g.item ORDER BY g.bucket) AS k
                FROM gross g JOIN {items} i ON i.item = g.item
                WHERE g.level = {level}
            ),
            run(item, k, projected, net, qty) AS (
                SELECT item, 0::BIGINT, 0.0::DOUBLE, 0.0::DOUBLE, 0.0::DOUBLE FROM g WHERE k = 1
                UNION ALL
                SELECT g.item, g.k,
                       r.projected - g.gross + lot(g.gross - r.projected, g.min_order, g.order_multiple),
                       net_of(g.gross - r.projected),
                       lot(g.gross - r.projected, g.min_order, g.order_multiple)
                FROM run r JOIN g ON g.item = r.item AND g.k = r.k + 1
            )
            SELECT g.item, {level}, g.bucket, g.need_date, (g.need_date - g.lead_days)::DATE,
                   r.net, r.qty
            FROM run r JOIN g ON g.item = r.item AND g.k = r.k
            WHERE r.qty > 0
            """
        )
        if level < deepest:
            con.execute(
                f"""
                INSERT INTO requirements
                SELECT b.component, i.level, greatest(o.release_date, {as_of}),
                       sum(o.qty * b.quantity_per)
                FROM orders o JOIN {structure} b ON b.parent = o.item
                JOIN {items} i ON i.item = b.component
                WHERE o.level = {level}
                GROUP BY ALL
                """
            )
    totals = con.execute(
        f"SELECT count(*), sum(qty), sum(qty) FILTER (WHERE level = {deepest}) FROM orders"
    ).fetchone()
    return time.perf_counter() - started, totals


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pegging", action="store_true")
    parser.add_argument("--orders", type=int, help="quotecast's planned orders, to check")
    parser.add_argument("--units", type=float, help="quotecast's units ordered, to check")
    args = parser.parse_args()
    # The lighter query and the plan's netting run by turns, so both see
    # the machine's same minutes.
    for loaded in (False, True):
        source = "tables in memory" if loaded else "Parquet"
        for r in range(args.runs):
            took, (rows, leaf_gross, leaf_planned) = run(args.directory, args.as_of, loaded)
            print(
                f"duckdb from {source} run {r + 1}: {took:.2f} s ({rows} item-week rows; "
                f"last-level demand {leaf_gross:.1f} units, planned {leaf_planned:.0f} units)"
            )
            took, (orders, units, leaf_units) = run_mrp(args.directory, args.as_of, loaded)
            print(
                f"duckdb netting as the plan does, from {source}, run {r + 1}: {took:.2f} s "
                f"({orders} planned orders of {units:.0f} units on every level; "
                f"planned {leaf_units:.0f} units on the last level)"
            )
            if args.orders is not None and (orders, units) != (args.orders, args.units):
                raise SystemExit(
                    f"DuckDB planned {orders} orders of {units:.0f} units, "
                    f"quotecast {args.orders} of {args.units:.0f}"
                )
    for r in range(args.runs if args.pegging else 0):
        took, (pegs, leaf_gross, leaf_planned) = run_pegged(args.directory, args.as_of)
        print(
            f"duckdb with pegging run {r + 1}: {took:.2f} s ({pegs} pegs; "
            f"last-level demand {leaf_gross:.1f} units, planned {leaf_planned:.0f} units)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"duckdb peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
