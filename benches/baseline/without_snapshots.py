"""What the forecast is worth on a history without past snapshots, against
the same history with them: for each company directory (a `gen-pipeline`
or `other_company.py` output) and each as-of day, the past snapshot
taken on or before it is forecast three ways and set against what really
booked after it, per team, in the rest of its quarter and in the next:

- `snapshots`: `expected_bookings` with the whole history (correction,
  slippage, calendar, new deals from the snapshots);
- `stage_entries`: `expected_bookings` with the snapshots file left out
  (new deals learned from the days deals entered their first stage);
- `weighted`: the same run's `weighted`, what the forecast gave without
  snapshots before it learned new deals.

    python3 benches/baseline/without_snapshots.py QUOTECAST DIR... \
        --as-of 2025-10-01,2025-12-01,2026-02-01,2026-04-01,2026-06-01

Needs pandas and pyarrow (benches/baseline/requirements.txt). Prints WAPE
(Σ|forecast − actual| / Σ actual over teams and days) and bias per
company, horizon and way. Amounts are turned into USD at the example
rules' planning rates (rules/currencies.toml).
"""
import argparse
import os
import subprocess
import tempfile

import pandas as pd

PER_USD = {"USD": 1.0, "EUR": 0.92, "CNY": 7.20}


def read(path):
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    return pd.read_csv(path, sep=None, engine="python", dtype=str)


def table(history, name):
    for ext in ("parquet", "csv"):
        path = os.path.join(history, f"{name}.{ext}")
        if os.path.exists(path):
            return path
    return None


def forecast(quotecast, pipeline, history, as_of, out):
    subprocess.run(
        [quotecast, "forecast", "run", "--pipeline", pipeline, "--history", history,
         "--bucket", "quarter", "--by", "team", "--as-of", as_of, "--trials", "0",
         "--out", out],
        check=True, capture_output=True, text=True,
    )
    frame = pd.read_csv(out)
    frame["quarter"] = pd.to_datetime(frame["bucket"]).dt.to_period("Q")
    return frame


def company(quotecast, directory, days, work):
    history = os.path.join(directory, "history")
    snapshots = read(table(history, "snapshots"))
    snapshots["snapshot_date"] = pd.to_datetime(snapshots["snapshot_date"])
    outcomes = read(table(history, "outcomes"))
    outcomes["closed"] = pd.to_datetime(outcomes["closed"])
    won = outcomes[outcomes["outcome"].astype(str).str.lower().str.contains("won")].copy()
    won["usd"] = won["amount"].astype(float) / won["currency"].map(PER_USD).fillna(1.0)
    bare = os.path.join(work, os.path.basename(directory.rstrip("/")))
    os.makedirs(bare, exist_ok=True)
    for name in ("stage_events", "outcomes"):
        source = table(history, name)
        target = os.path.join(bare, os.path.basename(source))
        if not os.path.exists(target):
            os.symlink(os.path.abspath(source), target)
    taken = sorted(snapshots["snapshot_date"].unique())
    rows = []
    for want in days:
        day = max(d for d in taken if d <= pd.Timestamp(want))
        pipeline = os.path.join(work, "pipeline.csv")
        snapshots[snapshots["snapshot_date"] == day].drop(columns=["snapshot_date"]).to_csv(
            pipeline, index=False
        )
        as_of = pd.Timestamp(day).strftime("%Y-%m-%d")
        runs = {
            "snapshots": forecast(quotecast, pipeline, history, as_of, os.path.join(work, "a.csv")),
            "stage_entries": forecast(quotecast, pipeline, bare, as_of, os.path.join(work, "b.csv")),
        }
        runs["weighted"] = runs["stage_entries"]
        for horizon in (0, 1):
            quarter = pd.Timestamp(day).to_period("Q") + horizon
            actual = (
                won[(won["closed"] > pd.Timestamp(day)) & (won["closed"].dt.to_period("Q") == quarter)]
                .groupby("team")["usd"].sum()
            )
            for way, frame in runs.items():
                column = "weighted" if way == "weighted" else "expected_bookings"
                cells = frame[frame["quarter"] == quarter].set_index("team")
                teams = sorted(set(actual.index) | set(cells.index))
                for team in teams:
                    value = cells[column].get(team, 0.0) if column in cells else 0.0
                    if horizon == 0:
                        # What was won before the day is not forecast.
                        value -= cells["closed_won"].get(team, 0.0)
                    rows.append((way, horizon, value, actual.get(team, 0.0)))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("quotecast")
    parser.add_argument("directories", nargs="+")
    parser.add_argument("--as-of", required=True, help="comma-separated days")
    args = parser.parse_args()
    days = args.as_of.split(",")
    results = []
    with tempfile.TemporaryDirectory() as work:
        for directory in args.directories:
            for way, horizon, value, actual in company(args.quotecast, directory, days, work):
                results.append((os.path.basename(directory.rstrip("/")), way, horizon, value, actual))
    frame = pd.DataFrame(results, columns=["company", "way", "horizon", "forecast", "actual"])
    frame["error"] = (frame["forecast"] - frame["actual"]).abs()
    summary = frame.groupby(["company", "horizon", "way"], sort=False)[["forecast", "actual", "error"]].sum()
    summary["wape"] = summary["error"] / summary["actual"]
    summary["bias"] = summary["forecast"] / summary["actual"] - 1
    print(summary[["wape", "bias"]].unstack("way").round(3).to_string())


if __name__ == "__main__":
    main()
