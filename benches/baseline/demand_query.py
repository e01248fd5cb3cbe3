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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pegging", action="store_true")
    args = parser.parse_args()
    for loaded in (False, True):
        source = "tables in memory" if loaded else "Parquet"
        for r in range(args.runs):
            took, (rows, leaf_gross, leaf_planned) = run(args.directory, args.as_of, loaded)
            print(
                f"duckdb from {source} run {r + 1}: {took:.2f} s ({rows} item-week rows; "
                f"last-level demand {leaf_gross:.1f} units, planned {leaf_planned:.0f} units)"
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
