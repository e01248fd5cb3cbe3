"""Solver baseline for configbench: the same valid-option sets, computed by
OR-Tools CP-SAT with one solve per candidate.

Reads the JSON that `configbench --export FILE` writes (a generated model in
plain constraint form and recorded click sessions with the quantities our
engine offered and its time per click). For every click it fixes the
choices, then asks CP-SAT, for each option and each quantity not yet seen in
an earlier solution of the same click, whether some valid configuration
gives the option that quantity (an assumption literal per candidate, so the
model is built once per click; every solution found marks all the values it
contains as possible, which saves most solves). It checks that the offered
sets equal ours and prints both times per click and their ratio.

    pip install -r benches/baseline/requirements.txt
    cargo run --release -p quotecast-benches --bin configbench -- --export /tmp/gen.json
    python3 benches/baseline/cpsat_configure.py /tmp/gen.json
"""

import argparse
import json
import statistics
import sys
import time

from ortools.sat.python import cp_model


def build(doc, choices):
    """The CP-SAT model of the configuration with `choices` fixed, the
    quantity variables, and one literal per (option, quantity) candidate."""
    m = cp_model.CpModel()
    q = [m.NewIntVar(0, o["max"], f"q{i}") for i, o in enumerate(doc["options"])]
    on = []
    for i, v in enumerate(q):
        b = m.NewBoolVar(f"on{i}")
        m.Add(v >= 1).OnlyEnforceIf(b)
        m.Add(v == 0).OnlyEnforceIf(b.Not())
        on.append(b)
    for g in doc["groups"]:
        total = sum(q[o] for o in g["options"])
        m.Add(total >= g["min"])
        m.Add(total <= g["max"])
    for c in doc["constraints"]:
        kind = c["kind"]
        if kind == "requires":
            m.AddBoolOr([on[o] for o in c["any_of"]]).OnlyEnforceIf(on[c["option"]])
        elif kind == "not_both":
            for a, b in c["pairs"]:
                m.AddBoolOr([on[a].Not(), on[b].Not()])
        elif kind == "adds":
            m.Add(q[c["add"]] >= c["quantity"]).OnlyEnforceIf(on[c["when"]])
        elif kind == "linear":
            m.Add(sum(coef * q[o] for o, coef in c["terms"]) <= c["at_most"])
        else:
            raise ValueError(f"unknown constraint kind {kind}")
    for option, quantity in choices:
        m.Add(q[option] == quantity)
    is_value = {}
    for i, o in enumerate(doc["options"]):
        for v in range(o["max"] + 1):
            lit = m.NewBoolVar(f"is{i}_{v}")
            m.Add(q[i] == v).OnlyEnforceIf(lit)
            m.Add(q[i] != v).OnlyEnforceIf(lit.Not())
            is_value[(i, v)] = lit
    return m, q, is_value


def offered(doc, choices, workers):
    """Per option, the quantities some valid configuration gives it."""
    m, q, is_value = build(doc, choices)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    possible = [set() for _ in doc["options"]]
    solves = 0
    for (i, v), lit in is_value.items():
        if v in possible[i]:
            continue
        m.ClearAssumptions()
        m.AddAssumption(lit)
        solves += 1
        status = solver.Solve(m)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            for k, var in enumerate(q):
                possible[k].add(solver.Value(var))
    return [sorted(s) for s in possible], solves


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", help="JSON written by configbench --export")
    parser.add_argument("--clicks", type=int, default=30, help="clicks to replay")
    parser.add_argument("--workers", type=int, default=1, help="CP-SAT threads")
    args = parser.parse_args()
    with open(args.export) as f:
        doc = json.load(f)
    clicks = doc["clicks"][: args.clicks]
    print(
        f"{doc['sku']}: {len(doc['options'])} options, {len(doc['groups'])} groups, "
        f"{len(doc['constraints'])} rules; {len(clicks)} clicks; CP-SAT {args.workers} worker(s)"
    )
    ours, theirs, mismatches, solves = [], [], 0, 0
    for n, click in enumerate(clicks):
        start = time.perf_counter()
        sets, s = offered(doc, click["choices"], args.workers)
        took = (time.perf_counter() - start) * 1e6
        solves += s
        ours.append(click["micros"])
        theirs.append(took)
        if sets != click["offered"]:
            mismatches += 1
            diff = [
                (doc["options"][i]["sku"], a, b)
                for i, (a, b) in enumerate(zip(click["offered"], sets))
                if a != b
            ]
            print(f"click {n}: offered sets differ (ours, CP-SAT): {diff[:5]}", file=sys.stderr)

    def pct(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, round((len(xs) - 1) * p))]

    print(f"{'':<10} {'p50 µs':>12} {'p99 µs':>12} {'mean µs':>12}")
    for name, xs in (("quotecast", ours), ("CP-SAT", theirs)):
        print(f"{name:<10} {pct(xs, 0.5):>12.1f} {pct(xs, 0.99):>12.1f} {statistics.mean(xs):>12.1f}")
    print(
        f"CP-SAT / quotecast: p50 {pct(theirs, 0.5) / pct(ours, 0.5):.0f}x, "
        f"p99 {pct(theirs, 0.99) / pct(ours, 0.99):.0f}x; "
        f"{solves / len(clicks):.0f} solves per click; offered sets differ on {mismatches} of {len(clicks)} clicks"
    )
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
