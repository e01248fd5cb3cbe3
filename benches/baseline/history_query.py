"""The baseline for the forecast's history path (`quotecast forecast run
--history`): the calibration and team-correction queries written in DuckDB
SQL over the same history files, as a planner's analyst would write them.

    python3 benches/baseline/history_query.py HISTORY_DIR [--as-of DATE] [--runs N]

Four queries, each over the whole history (Parquet or CSV as
`gen-pipeline` writes them):

1. win rates per team x stage x band of days in stage: every stage entry
   up to the as-of date joined to the deal's outcome and to the time it
   left the stage, weighted by recency (half-life 365 days), won over
   decided per band;
2. team accuracy: every past snapshot's open lines, weighted by (1), and
   what those deals booked after the snapshot, per team;
3. calendar: the same per team and horizon (quarters from the snapshot's);
4. slippage: won deals' delay past the close date their last snapshot
   stated, per team.

It is a simpler model than quotecast's (no competing-risk estimate of
open entries, no shrinkage, no shocks): the work a SQL engine does to
scan, join and group the same rows, which is what the benchmark compares.
Prints the time of each run and the process's peak memory.
"""
import argparse
import time
from pathlib import Path

from forecast_query import peak_mib

BANDS = [0, 7, 14, 21, 30, 45, 60, 90, 180]


def table(history, name):
    for ext, reader in (("parquet", "read_parquet"), ("csv", "read_csv_auto")):
        path = Path(history) / f"{name}.{ext}"
        if path.exists():
            return f"{reader}('{path}')"
    raise SystemExit(f"{history}: no {name}.parquet or {name}.csv")


def run(con, history, as_of):
    events, outcomes, snapshots = (table(history, n) for n in ("stage_events", "outcomes", "snapshots"))
    bands = "CASE " + " ".join(
        f"WHEN days >= {b} THEN {b}" for b in reversed(BANDS)
    ) + " END"
    con.sql(f"""
    CREATE OR REPLACE TEMP TABLE win_rates AS
    WITH entries AS (
        SELECT e.opportunity_id, e.stage, e.at,
               lead(e.at) OVER (PARTITION BY e.opportunity_id ORDER BY e.at) AS left_at
        FROM {events} e WHERE e.at <= DATE '{as_of}'
    ), decided AS (
        SELECT n.stage, o.team, o.outcome = 'won' AS won,
               date_diff('day', n.at, coalesce(n.left_at, o.closed)) AS days,
               pow(0.5, date_diff('day', n.at, DATE '{as_of}') / 365.0) AS weight
        FROM entries n JOIN {outcomes} o USING (opportunity_id)
        WHERE o.closed <= DATE '{as_of}'
    )
    SELECT team, stage, {bands} AS band,
           sum(weight * won::INT) / sum(weight) AS win_rate, sum(weight) AS entries
    FROM decided GROUP BY ALL
    """)
    accuracy = con.sql(f"""
    WITH open_lines AS (
        SELECT s.snapshot_date, s.opportunity_id, s.team, s.expected_close,
               CAST(s.amount AS DOUBLE) AS amount,
               coalesce(w.win_rate, 0) AS win_rate
        FROM {snapshots} s
        LEFT JOIN win_rates w
          ON w.team = s.team AND w.stage = s.stage
         AND w.band = {bands.replace('days', "date_diff('day', s.stage_entered, s.snapshot_date)")}
        WHERE coalesce(s.forecast_category, '') <> 'omitted'
    ), deals AS (
        SELECT snapshot_date, opportunity_id, team, min(expected_close) AS expected_close,
               sum(amount * win_rate) AS forecast
        FROM open_lines GROUP BY ALL
    ), booked AS (
        SELECT d.*, o.closed, CASE WHEN o.outcome = 'won' AND o.closed > d.snapshot_date
                                   THEN CAST(o.amount AS DOUBLE) ELSE 0 END AS realised
        FROM deals d LEFT JOIN {outcomes} o USING (opportunity_id)
        WHERE o.closed IS NULL OR o.closed <= DATE '{as_of}'
    )
    SELECT team, count(*) AS observations, sum(forecast) AS forecast, sum(realised) AS realised,
           sum(realised) / sum(forecast) AS ratio
    FROM booked GROUP BY team ORDER BY team
    """).fetchall()
    calendar = con.sql(f"""
    WITH open_lines AS (
        SELECT s.snapshot_date, s.opportunity_id, s.team, s.expected_close,
               CAST(s.amount AS DOUBLE) * coalesce(w.win_rate, 0) AS forecast
        FROM {snapshots} s
        LEFT JOIN win_rates w
          ON w.team = s.team AND w.stage = s.stage
         AND w.band = {bands.replace('days', "date_diff('day', s.stage_entered, s.snapshot_date)")}
        WHERE coalesce(s.forecast_category, '') <> 'omitted'
    ), forecast AS (
        SELECT team,
               date_diff('quarter', date_trunc('quarter', snapshot_date),
                         date_trunc('quarter', greatest(expected_close, snapshot_date))) AS horizon,
               sum(forecast) AS forecast
        FROM open_lines GROUP BY ALL
    ), realised AS (
        SELECT d.team,
               date_diff('quarter', date_trunc('quarter', d.snapshot_date),
                         date_trunc('quarter', o.closed)) AS horizon,
               sum(CAST(o.amount AS DOUBLE)) AS realised
        FROM (SELECT DISTINCT snapshot_date, opportunity_id, team FROM open_lines) d
        JOIN {outcomes} o USING (opportunity_id)
        WHERE o.outcome = 'won' AND o.closed > d.snapshot_date AND o.closed <= DATE '{as_of}'
        GROUP BY ALL
    )
    SELECT team, horizon, f.forecast, coalesce(r.realised, 0) AS realised,
           coalesce(r.realised, 0) / f.forecast AS factor
    FROM forecast f LEFT JOIN realised r USING (team, horizon)
    ORDER BY team, horizon
    """).fetchall()
    slippage = con.sql(f"""
    WITH stated AS (
        SELECT opportunity_id, arg_max(expected_close, snapshot_date) AS expected_close
        FROM {snapshots} GROUP BY opportunity_id
    )
    SELECT o.team, count(*) AS won, avg((o.closed > s.expected_close)::INT) AS late_share,
           median(greatest(date_diff('day', s.expected_close, o.closed), 0)) AS median_delay_days
    FROM {outcomes} o JOIN stated s USING (opportunity_id)
    WHERE o.outcome = 'won' AND o.closed <= DATE '{as_of}'
    GROUP BY o.team ORDER BY o.team
    """).fetchall()
    rates = con.sql("SELECT count(*) FROM win_rates").fetchall()[0][0]
    return rates, accuracy, calendar, slippage


def main():
    import duckdb

    parser = argparse.ArgumentParser()
    parser.add_argument("history")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--as-of", default="2026-11-20")
    args = parser.parse_args()
    for n in range(1, args.runs + 1):
        con = duckdb.connect()
        started = time.perf_counter()
        rates, accuracy, calendar, slippage = run(con, args.history, args.as_of)
        took = time.perf_counter() - started
        realised = sum(row[3] for row in accuracy)
        print(
            f"duckdb run {n}: {took:.3f} s, {rates} win rates, {len(accuracy)} teams "
            f"(realised {realised:.2f}), {len(calendar)} calendar cells, "
            f"{len(slippage)} slippage rows, peak {peak_mib():.0f} MiB",
            flush=True,
        )
        con.close()


if __name__ == "__main__":
    main()
