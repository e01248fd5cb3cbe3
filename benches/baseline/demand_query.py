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
time, the totals to compare with quotecast's, and the peak memory.
"""
import argparse
import resource
import time


def run(directory, as_of):
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    started = time.perf_counter()
    totals = con.execute(
        f"""
        WITH RECURSIVE
        demand AS (
            SELECT sku AS item,
                   greatest(date_trunc('week', need_date)::DATE, DATE '{as_of}') AS day,
                   sum(quantity * probability) AS qty
            FROM read_parquet('{directory}/demand.parquet')
            GROUP BY ALL
        ),
        bom AS (SELECT * FROM read_parquet('{directory}/bom.parquet')),
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
    args = parser.parse_args()
    for r in range(args.runs):
        took, (rows, leaf_gross, leaf_planned) = run(args.directory, args.as_of)
        print(
            f"duckdb run {r + 1}: {took:.2f} s ({rows} item-week rows; "
            f"last-level demand {leaf_gross:.1f} units, planned {leaf_planned:.0f} units)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"duckdb peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
