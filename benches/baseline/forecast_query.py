"""The baseline for forecastbench: the same stage-weighted forecast per
month x team x product line, over the same Parquet pipeline file, in DuckDB
or in pandas. Stages and currency rates come from the rule files, as
quotecast takes them.

    python3 benches/baseline/forecast_query.py FILE --engine duckdb|pandas [--runs N]

Prints the time of each run (from reading the file to the grouped result)
and the process's peak memory. Run each engine in its own process, so the
peak is its own.
"""
import argparse
import resource
import time
import tomllib
from pathlib import Path

OPEN_CATEGORIES = ["commit", "best_case", "pipeline"]


def rules(rules_dir):
    stages = tomllib.loads((rules_dir / "pipeline" / "stages.toml").read_text())["stage"]
    currencies = tomllib.loads((rules_dir / "currencies.toml").read_text())["currency"]
    stage_rows = [
        {
            "stage": s["id"],
            "win_rate": float(s["win_rate"]) / 100.0,
            "category": s["category"],
            "is_open": "outcome" not in s,
            "is_won": s.get("outcome") == "won",
        }
        for s in stages
    ]
    rate_rows = [{"currency": c["code"], "rate": float(c["per_corporate"])} for c in currencies]
    return stage_rows, rate_rows


def run_duckdb(path, stage_rows, rate_rows, as_of):
    import duckdb
    import pandas as pd

    con = duckdb.connect()
    con.register("stages", pd.DataFrame(stage_rows))
    con.register("rates", pd.DataFrame(rate_rows))
    sums = ",\n".join(
        f"round(sum(CASE WHEN is_open AND cat = '{c}' THEN value ELSE 0 END), 2) AS {c}"
        for c in OPEN_CATEGORIES
    )
    query = f"""
    WITH lines AS (
        SELECT p.opportunity_id, p.team, p.product_line, s.is_open, s.is_won, s.win_rate,
               coalesce(p.forecast_category, s.category) AS cat,
               CAST(p.amount AS DOUBLE) / r.rate AS value,
               date_trunc('month', CASE WHEN s.is_open AND p.expected_close < DATE '{as_of}'
                                        THEN DATE '{as_of}' ELSE p.expected_close END) AS bucket
        FROM read_parquet('{path}') p
        JOIN stages s USING (stage)
        JOIN rates r USING (currency)
        WHERE s.is_open OR s.is_won
    )
    SELECT bucket, team, product_line,
           count(DISTINCT opportunity_id) AS opportunities,
           round(sum(CASE WHEN is_won THEN value ELSE 0 END), 2) AS closed_won,
           {sums},
           round(sum(CASE WHEN is_open THEN value * win_rate ELSE 0 END)
                 + sum(CASE WHEN is_won THEN value ELSE 0 END), 2) AS weighted
    FROM lines
    GROUP BY bucket, team, product_line
    ORDER BY bucket, team, product_line
    """
    return con.sql(query).df()


def run_pandas(path, stage_rows, rate_rows, as_of):
    import pandas as pd

    frame = pd.read_parquet(
        path,
        columns=["opportunity_id", "team", "product_line", "stage", "expected_close",
                 "forecast_category", "currency", "amount"],
    )
    frame = frame.merge(pd.DataFrame(stage_rows), on="stage").merge(pd.DataFrame(rate_rows), on="currency")
    frame = frame[frame["is_open"] | frame["is_won"]]
    frame["value"] = frame["amount"].astype("float64") / frame["rate"]
    frame["cat"] = frame["forecast_category"].fillna(frame["category"])
    close = pd.to_datetime(frame["expected_close"])
    as_of_ts = pd.Timestamp(as_of)
    close = close.where(~(frame["is_open"] & (close < as_of_ts)), as_of_ts)
    frame["bucket"] = close.dt.to_period("M").dt.start_time
    frame["closed_won"] = frame["value"].where(frame["is_won"], 0.0)
    for c in OPEN_CATEGORIES:
        frame[c] = frame["value"].where(frame["is_open"] & (frame["cat"] == c), 0.0)
    frame["weighted"] = frame["value"].where(frame["is_open"], 0.0) * frame["win_rate"] + frame["closed_won"]
    grouped = frame.groupby(["bucket", "team", "product_line"], sort=True).agg(
        opportunities=("opportunity_id", "nunique"),
        closed_won=("closed_won", "sum"),
        commit=("commit", "sum"),
        best_case=("best_case", "sum"),
        pipeline=("pipeline", "sum"),
        weighted=("weighted", "sum"),
    )
    return grouped.round(2).reset_index()


def peak_mib():
    """The process's own peak resident memory (VmHWM starts anew at exec,
    unlike ru_maxrss, which a child inherits from the process that
    started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("pipeline")
    parser.add_argument("--engine", choices=["duckdb", "pandas"], required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--as-of", default="2026-11-20")
    parser.add_argument("--rules", default=str(Path(__file__).resolve().parents[2] / "rules"))
    args = parser.parse_args()
    stage_rows, rate_rows = rules(Path(args.rules))
    engine = run_duckdb if args.engine == "duckdb" else run_pandas
    for run in range(1, args.runs + 1):
        started = time.perf_counter()
        result = engine(args.pipeline, stage_rows, rate_rows, args.as_of)
        took = time.perf_counter() - started
        peak = peak_mib()
        print(
            f"{args.engine} run {run}: {took:.3f} s, {len(result)} groups, "
            f"weighted {result['weighted'].sum():.2f}, peak {peak:.0f} MiB",
            flush=True,
        )


if __name__ == "__main__":
    main()
