"""BDD baseline for configbench: the same model compiled with CUDD (through
the `dd` package from PyPI) and the same clicks answered from it.

Reads the JSON that `configbench --export FILE` writes: the model in plain
constraint form, our compile time, and recorded clicks with the quantities
our engine offered and its time per click.

Compile: every option's quantity is a block of bits, most significant first,
options in model order (the order our engine starts from); each constraint
is built as its own BDD (linear ones node by node over (bit, slack), as ours
are), then all are conjoined bottom-up: the constraint whose top variable is
deepest first, so each conjunction works near the bottom of the diagram
built so far. Dynamic reordering is off unless `--reorder` is given.

Click: the compiled BDD is restricted to the choices; one satisfying
assignment marks the values it contains as possible; then every other
(option, quantity) is tested by cofactoring the restriction on it (one call
into CUDD each; marking the values of further assignments was slower, the
marking being Python). The offered sets are checked against ours.

    pip install -r benches/baseline/requirements.txt
    cargo run --release -p quotecast-benches --bin configbench -- --export /tmp/gen.json
    python3 benches/baseline/cudd_configure.py /tmp/gen.json
"""

import argparse
import json
import statistics
import sys
import time

from dd import cudd


def bits_for(maximum):
    return max(1, maximum.bit_length())


class Model:
    def __init__(self, doc, reorder):
        self.doc = doc
        self.bdd = cudd.BDD()
        self.bdd.configure(reordering=reorder)
        self.first = []
        self.width = []
        names = []
        for i, option in enumerate(doc["options"]):
            w = bits_for(option["max"])
            self.first.append(len(names))
            self.width.append(w)
            names.extend(f"x{i}_{k}" for k in range(w))
        self.names = names
        self.bdd.declare(*names)
        self.vars = [self.bdd.var(n) for n in names]

    def bits(self, option):
        """(variable index, power of two) of the option's bits."""
        w = self.width[option]
        return [(self.first[option] + k, 1 << (w - 1 - k)) for k in range(w)]

    def on(self, option):
        u = self.bdd.false
        for var, _ in self.bits(option):
            u = u | self.vars[var]
        return u

    def at_most(self, terms, bound):
        """sum(weight * quantity) <= bound over (option, weight) terms."""
        weights = {}
        for option, weight in terms:
            for var, place in self.bits(option):
                weights[var] = weights.get(var, 0) + weight * place
        bits = sorted((v, w) for v, w in weights.items() if w != 0)
        n = len(bits)
        least = [0] * (n + 1)
        most = [0] * (n + 1)
        for i in range(n - 1, -1, -1):
            least[i] = least[i + 1] + min(bits[i][1], 0)
            most[i] = most[i + 1] + max(bits[i][1], 0)
        memo = {}
        bdd = self.bdd

        def node(i, slack):
            if most[i] <= slack:
                return bdd.true
            if least[i] > slack:
                return bdd.false
            key = (i, slack)
            if key in memo:
                return memo[key]
            var, weight = bits[i]
            u = bdd.ite(self.vars[var], node(i + 1, slack - weight), node(i + 1, slack))
            memo[key] = u
            return u

        return node(0, bound)

    def value(self, option, quantity):
        """The assignment of the option's bits that writes `quantity`."""
        return {self.names[var]: bool(quantity & place) for var, place in self.bits(option)}

    def constraints(self):
        doc = self.doc
        out = []
        for i, option in enumerate(doc["options"]):
            if (option["max"] + 1) & option["max"] != 0:
                out.append(self.at_most([(i, 1)], option["max"]))
        for g in doc["groups"]:
            terms = [(o, 1) for o in g["options"]]
            out.append(self.at_most(terms, g["max"]) & self.at_most([(o, -1) for o, _ in terms], -g["min"]))
        for c in doc["constraints"]:
            kind = c["kind"]
            if kind == "requires":
                any_of = self.bdd.false
                for o in c["any_of"]:
                    any_of = any_of | self.on(o)
                out.append(~self.on(c["option"]) | any_of)
            elif kind == "not_both":
                u = self.bdd.true
                for a, b in c["pairs"]:
                    u = u & ~(self.on(a) & self.on(b))
                out.append(u)
            elif kind == "adds":
                enough = self.at_most([(c["add"], -1)], -c["quantity"])
                out.append(~self.on(c["when"]) | enough)
            elif kind == "linear":
                out.append(self.at_most([(o, w) for o, w in c["terms"]], c["at_most"]))
            else:
                raise ValueError(f"unknown constraint kind {kind}")
        return out

    def compile(self):
        parts = self.constraints()
        # Deepest top variable first.
        parts.sort(key=lambda u: -(u.level if u.var is not None else len(self.names)))
        acc = self.bdd.true
        for u in parts:
            acc = acc & u
        return acc

    def offered(self, root, choices):
        bdd = self.bdd
        fixed = {}
        for option, quantity in choices:
            fixed.update(self.value(option, quantity))
        u = bdd.let(fixed, root) if fixed else root
        possible = [set() for _ in self.doc["options"]]

        def mark(v):
            assignment = bdd.pick(v)
            for i in range(len(possible)):
                q = 0
                for var, place in self.bits(i):
                    # Variables the assignment leaves free are don't-cares:
                    # take them as 0 (a valid completion either way).
                    if assignment.get(self.names[var]):
                        q |= place
                possible[i].add(q)

        if u == bdd.false:
            return None
        mark(u)
        chosen = dict(choices)
        for i, option in enumerate(self.doc["options"]):
            if i in chosen:
                continue
            for q in range(option["max"] + 1):
                if q in possible[i]:
                    continue
                if bdd.let(self.value(i, q), u) != bdd.false:
                    possible[i].add(q)
        # A chosen option's bits are substituted: only its quantity.
        for i, q in chosen.items():
            possible[i] = {q}
        return [sorted(s) for s in possible]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round((len(xs) - 1) * p))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", help="JSON written by configbench --export")
    parser.add_argument("--clicks", type=int, default=60, help="clicks to replay")
    parser.add_argument("--reorder", action="store_true", help="let CUDD reorder variables")
    args = parser.parse_args()
    sys.setrecursionlimit(100000)
    with open(args.export) as f:
        doc = json.load(f)
    model = Model(doc, args.reorder)
    start = time.perf_counter()
    root = model.compile()
    compile_s = time.perf_counter() - start
    clicks = doc["clicks"][: args.clicks]
    print(
        f"{doc['sku']}: {len(doc['options'])} options, {len(doc['groups'])} groups, "
        f"{len(doc['constraints'])} rules; {len(clicks)} clicks; CUDD {len(root)} nodes, "
        f"reordering {'on' if args.reorder else 'off'}"
    )
    ours, theirs, mismatches = [], [], 0
    for n, click in enumerate(clicks):
        start = time.perf_counter()
        sets = model.offered(root, click["choices"])
        took = (time.perf_counter() - start) * 1e6
        ours.append(click["micros"])
        theirs.append(took)
        if sets != click["offered"]:
            mismatches += 1
            diff = [
                (doc["options"][i]["sku"], a, b)
                for i, (a, b) in enumerate(zip(click["offered"], sets or []))
                if a != b
            ]
            print(f"click {n}: offered sets differ (ours, CUDD): {diff[:5]}", file=sys.stderr)
    our_compile = doc.get("compile_ms", float("nan")) / 1e3
    print(f"{'':<10} {'compile s':>10} {'p50 µs':>12} {'p99 µs':>12} {'mean µs':>12}")
    for name, c, xs in (("quotecast", our_compile, ours), ("CUDD", compile_s, theirs)):
        print(f"{name:<10} {c:>10.3f} {pct(xs, 0.5):>12.1f} {pct(xs, 0.99):>12.1f} {statistics.mean(xs):>12.1f}")
    print(
        f"CUDD / quotecast: compile {compile_s / our_compile:.2f}x, click p50 "
        f"{pct(theirs, 0.5) / pct(ours, 0.5):.0f}x, p99 {pct(theirs, 0.99) / pct(ours, 0.99):.0f}x; "
        f"offered sets differ on {mismatches} of {len(clicks)} clicks"
    )
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
