"""A company unlike `gen-pipeline`'s, exported as a Salesforce org would
export it: the forecast's test against shapes it was not built on.

    python3 benches/baseline/other_company.py OUT [--seed N] [--deals-per-week N] [--hold P] [--hold-period quarter|month] [--fiscal-year-start MONTH] [--locale us|de]

Writes OUT/pipeline.csv and OUT/history/{stage_events,outcomes,snapshots}.csv
(`;`-separated, Salesforce's stage labels, `Closed Won`/`Closed Lost`
outcomes, stage events as `YYYY-MM-DD HH:MM:SS`, amounts as pandas writes
floats), from its own simulation, which shares nothing with
`gen-pipeline`'s:

- six teams with their own habits: `east` steady; `west` improving (its
  conversion rises from 0.7x to 1.3x over the two years); `central`
  declining (1.3x to 0.7x); `sandbag` states amounts 20 % low and close
  dates three weeks late, and books more than it stated; `hopeful` states
  amounts 30 % high and close dates five weeks early; `renewals` enters
  most deals straight at `Proposal/Price Quote` and wins most of them;
- a quarter-end push: a win falling in weeks 3 to 10 of a quarter waits,
  with probability 0.5 (`--hold`), for the quarter's last twelve days
  (`--hold-period month`: a win on days 5 to 22 of a month waits for the
  month's last five days, a month-end push; `--fiscal-year-start 2`: the
  quarters are those of a fiscal year starting in February, as Dell's);
- deals created 25 % faster each year, a third more in the fourth quarter;
- 6 % of lost deals re-opened 20 to 90 days later at negotiation;
- stated close dates that slip 30 days each time they pass;
- snapshots every 14 days (not 28) for two years.

`--locale us` writes dates and amounts as a US user's report export
does (`11/20/2026`, `11/20/2026 09:07 AM`, `USD 12,500.00`); `--locale de`
as a German user's (`20.11.2026`, `12.500,00 EUR`). The figures are the
same as without it.

The snapshot date is 2026-11-20 unless `--as-of` says otherwise. The
simulation runs 200 days past it, so OUT/truth.csv holds what really booked
after the snapshot per team and quarter (won amount by close date), for
scoring the forecast made on that day.
"""
import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

STAGES = ["Qualification", "Needs Analysis", "Id. Decision Makers", "Proposal/Price Quote", "Negotiation/Review"]
WON, LOST = "Closed Won", "Closed Lost"
ADVANCE = [0.45, 0.6, 0.7, 0.75, 0.8]  # to the next stage (the last: to won)
DWELL = [12, 18, 15, 12, 10]  # mean days in each stage
SKUS = [  # sku, product line, USD list price
    ("LT-14-STD", "laptops", 890), ("LT-14-PRO", "laptops", 1280), ("LT-16-WS", "laptops", 2140),
    ("DSP-24", "displays", 186), ("DSP-27-4K", "displays", 418), ("DSP-34-UW", "displays", 682),
    ("SRV-1U", "servers", 2363), ("SRV-2U", "servers", 3523), ("SRV-TWR", "servers", 1777),
    ("SVC-SUP-24X7", "services", 1483), ("SVC-INST-RACK", "services", 442),
]
# team: region, currency, conversion at start and end of history, amount
# bias, close-date bias (days, + = stated late), share entering at propose
TEAMS = {
    "east": ("na", "USD", 1.0, 1.0, 1.0, 0, 0.05),
    "west": ("na", "USD", 0.7, 1.3, 1.0, 0, 0.05),
    "central": ("emea", "EUR", 1.3, 0.7, 1.0, 0, 0.05),
    "sandbag": ("emea", "EUR", 1.0, 1.0, 0.8, 21, 0.05),
    "hopeful": ("na", "USD", 1.0, 1.0, 1.3, -35, 0.05),
    "renewals": ("na", "USD", 1.0, 1.0, 1.0, 0, 0.7),
}
EUR_PER_USD = 0.92


def quarter_end(day, first_month=1):
    """The last day of the quarter holding `day`, in a fiscal year
    starting in `first_month` (1: calendar quarters)."""
    months = day.year * 12 + day.month - 1
    next_start = months - (months - (first_month - 1)) % 3 + 3
    first_next = dt.date(next_start // 12, next_start % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def month_end(day):
    first_next = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def held(rng, at, hold, period, first_month=1):
    """The day a win on `at` books: a push to the end of its quarter (or
    month) with probability `hold` when it falls in the period's middle."""
    if period == "month":
        if 5 <= at.day <= 22 and rng.random() < hold:
            return month_end(at) - dt.timedelta(days=int(rng.integers(0, 5)))
        return at
    qe = quarter_end(at, first_month)
    into_quarter = 92 - (qe - at).days
    if 14 <= into_quarter <= 70 and rng.random() < hold:
        return qe - dt.timedelta(days=int(rng.integers(0, 12)))
    return at


def simulate(rng, start, end, deals_per_week, hold, period="quarter", first_month=1):
    """Every deal's life: lines, stage events, outcome, stated fields."""
    deals, n = [], 0
    day = start
    span = (end - start).days
    while day < end:
        t = (day - start).days / span
        rate = deals_per_week / 7 * 1.25 ** (2 * t) * (1.33 if day.month >= 10 else 1.0)
        for _ in range(rng.poisson(rate)):
            team = list(TEAMS)[rng.integers(len(TEAMS))]
            deals.append(deal(rng, f"006{n:09d}", team, day, t, hold, period, first_month))
            n += 1
        day += dt.timedelta(days=1)
    return deals


def deal(rng, oid, team, created, t, hold, period, first_month=1):
    region, currency, conv0, conv1, amount_bias, date_bias, renewal = TEAMS[team]
    conv = conv0 + (conv1 - conv0) * t
    per_stage = conv ** (1 / 5)
    first = 3 if rng.random() < renewal else 0
    lines = []
    for _ in range(rng.integers(1, 4)):
        sku, line, price = SKUS[rng.integers(len(SKUS))]
        qty = int(rng.integers(1, 60))
        unit = price * (EUR_PER_USD if currency == "EUR" else 1) * rng.uniform(0.8, 1.0)
        lines.append((sku, line, qty, round(qty * unit, 2)))
    events, at = [], created
    outcome, reopened = None, False
    stage = first
    while outcome is None:
        events.append((stage, at))
        at = at + dt.timedelta(days=max(1, int(rng.gamma(2.0, DWELL[stage] / 2))))
        p = min(0.97, ADVANCE[stage] * per_stage * (1.25 if first == 3 else 1.0))
        if rng.random() < p:
            if stage == 4:
                outcome = WON
            else:
                stage += 1
        else:
            outcome = LOST
            if not reopened and rng.random() < 0.06:
                events.append((LOST, at))
                reopened, outcome, stage = True, None, 4
                at = at + dt.timedelta(days=int(rng.integers(20, 91)))
    if outcome == WON:
        at = held(rng, at, hold, period, first_month)
    events.append((outcome, at))
    cycle = sum(DWELL[first:]) * 1.5
    stated_close = created + dt.timedelta(days=int(cycle + date_bias + rng.normal(0, 10)))
    estimate = rng.lognormal(0, 0.3)
    return dict(id=oid, team=team, region=region, currency=currency, created=created,
                lines=lines, events=events, outcome=outcome, closed=at,
                stated_close=stated_close, amount_bias=amount_bias, estimate=estimate,
                account=f"001{rng.integers(3000):06d}", owner=f"{team}-rep-{rng.integers(8):02d}")


def state_on(d, day):
    """The deal as the CRM shows it on `day`, or None before it exists."""
    if d["created"] > day:
        return None
    stage, entered = None, None
    for s, at in d["events"]:
        if at <= day:
            stage, entered = s, at
    close = d["stated_close"]
    if isinstance(stage, int):
        while close < day:
            close += dt.timedelta(days=30)
    else:
        close = entered
    return stage, entered, close


def rows_on(d, day, with_closed):
    state = state_on(d, day)
    if state is None:
        return []
    stage, entered, close = state
    if not isinstance(stage, int) and not (with_closed and entered > day - dt.timedelta(days=92)):
        return []
    label = STAGES[stage] if isinstance(stage, int) else stage
    factor = d["amount_bias"] * (d["estimate"] if isinstance(stage, int) and stage < 3 else 1.0)
    if stage == WON:
        factor = 1.0
    return [dict(opportunity_id=d["id"], account=d["account"], owner=d["owner"], team=d["team"],
                 region=d["region"], stage=label, stage_entered=entered, created=d["created"],
                 expected_close=close, forecast_category="", currency=d["currency"], line=i + 1,
                 sku=sku, product_line=pl, quantity=qty, amount=round(amount * factor, 2), quote_ref="")
            for i, (sku, pl, qty, amount) in enumerate(d["lines"])]


DATE_COLUMNS = ("created", "expected_close", "stage_entered", "snapshot_date", "closed", "at")


def localized(frame, locale):
    """`frame` with its dates and amounts written as `locale`'s reports do."""
    if locale == "iso" or frame.empty:
        return frame
    frame = frame.copy()
    day = "%m/%d/%Y" if locale == "us" else "%d.%m.%Y"
    for name in DATE_COLUMNS:
        if name not in frame:
            continue
        stamps = pd.to_datetime(frame[name])
        with_time = name == "at"
        fmt = day + (" %I:%M %p" if locale == "us" else " %H:%M") if with_time else day
        frame[name] = stamps.dt.strftime(fmt)
    if "amount" in frame:
        def amount(row):
            text = f"{row['amount']:,.2f}"
            if locale == "us":
                return f"{row['currency']} {text}"
            return text.replace(",", " ").replace(".", ",").replace(" ", ".") + f" {row['currency']}"
        frame["amount"] = frame.apply(amount, axis=1)
    return frame


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--deals-per-week", type=float, default=60)
    ap.add_argument("--hold", type=float, default=0.5,
                    help="the chance that a win in weeks 3 to 10 of a quarter waits for its last twelve days")
    ap.add_argument("--hold-period", choices=("quarter", "month"), default="quarter",
                    help="what a held win waits for the end of")
    ap.add_argument("--fiscal-year-start", type=int, default=1, choices=range(1, 13),
                    help="the month (1-12) the fiscal year starts in: the quarter-end push and truth.csv's quarters follow it")
    ap.add_argument("--as-of", default="2026-11-20")
    ap.add_argument("--locale", choices=("iso", "us", "de"), default="iso")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    as_of = dt.date.fromisoformat(a.as_of)
    start = as_of - dt.timedelta(days=730)
    deals = simulate(rng, start, as_of + dt.timedelta(days=200), a.deals_per_week, a.hold, a.hold_period,
                     a.fiscal_year_start)
    known = [d for d in deals if d["created"] <= as_of]
    out = Path(a.out)
    (out / "history").mkdir(parents=True, exist_ok=True)
    localized(pd.DataFrame([r for d in known for r in rows_on(d, as_of, True)]), a.locale).to_csv(out / "pipeline.csv", index=False)
    snaps = []
    day = as_of - dt.timedelta(days=14)
    while day > start + dt.timedelta(days=60):
        snaps += [dict(snapshot_date=day, **r) for d in known for r in rows_on(d, day, False)]
        day -= dt.timedelta(days=14)
    localized(pd.DataFrame(snaps), a.locale).to_csv(out / "history" / "snapshots.csv", index=False, sep=";")
    events = [dict(opportunity_id=d["id"], stage=(STAGES[s] if isinstance(s, int) else s),
                   at=f"{at} {9 + i % 8:02d}:{(7 * i) % 60:02d}:00")
              for d in known for i, (s, at) in enumerate(d["events"]) if at <= as_of]
    localized(pd.DataFrame(events), a.locale).to_csv(out / "history" / "stage_events.csv", index=False, sep=";")
    outcomes = [dict(opportunity_id=d["id"], team=d["team"], outcome=d["outcome"], closed=d["closed"],
                     currency=d["currency"],
                     amount=float(sum(l[3] for l in d["lines"])) if d["outcome"] == WON else 0.0)
                for d in known if d["closed"] <= as_of]
    localized(pd.DataFrame(outcomes), a.locale).to_csv(out / "history" / "outcomes.csv", index=False, sep=";")
    # pandas names a fiscal quarter by the month its year ends in.
    ends = ["DEC", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV"]
    quarters = f"Q-{ends[a.fiscal_year_start - 1]}"
    truth = [dict(team=d["team"], quarter=str(pd.Period(d["closed"], quarters)), currency=d["currency"],
                  amount=sum(l[3] for l in d["lines"]))
             for d in deals if d["outcome"] == WON and as_of < d["closed"]]
    pd.DataFrame(truth).groupby(["team", "quarter", "currency"]).amount.sum().round(2).to_csv(out / "truth.csv")
    print(f"{out}: {len(known)} deals, {len(snaps)} snapshot rows, {len(events)} stage events, "
          f"{len(outcomes)} outcomes")


if __name__ == "__main__":
    main()
