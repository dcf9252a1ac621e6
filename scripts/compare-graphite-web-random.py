#!/usr/bin/env python3
"""Random but valid graphite targets for scripts/compare-graphite-web.sh (standard library only).

    compare-graphite-web-random.py FUNCTIONS.json SEED COUNT  > targets

FUNCTIONS.json is graphite-web's function list as its /functions answers it (name → {params:
[{name, type, required, multiple, options, default}]}, or name → [params]); the script asks
graphite-web's own registry for it at run time. Each target is a nested expression (depth 1 to
3) over the first set's data (`cmp.*`, its tagged series and events): series lists from paths,
globs and nested calls, numbers, strings, intervals, node indexes, aggregation names; optional
arguments present or absent, some given by keyword. The same list, seed and count give the same
targets (one per line, in the targets file's format: `{S+30min}` is a time of the data).
"""
import json
import random
import sys

# Not compared: random or wall-clock dependent, or not a series list on their own (mapSeries'
# list of lists reaches only reduceSeries, generated apart), not implemented by tally (pie*).
SKIP = {"randomWalk", "randomWalkFunction", "map", "mapSeries", "reduce", "reduceSeries",
        "pieAverage", "pieMaximum", "pieMinimum", "seriesByTag",
        # graphite-web stacks again when a function re-evaluates its argument (README)
        "stacked"}

PATHS = ["cmp.a.x", "cmp.b.y", "cmp.c.x", "cmp.counter", "cmp.periodic", "cmp.wave",
         "cmp.freq.1", "cmp.power.2", "cmp.node", "cmp.node.leaf", "cmp.a.y"]
GLOBS = ["cmp.*.x", "cmp.*.y", "cmp.{a,b}.*", "cmp.[ab].x", "cmp.freq.*", "cmp.power.*",
         "cmp.*.*", "cmp.*", "cmp.nothing.*", "cmp.{a,c}.{x,y}"]
TAGGED = ["seriesByTag('name=tag.cpu')", "seriesByTag('dc=eu')", "seriesByTag('name=~tag.*', 'host!=web2')",
          "seriesByTag('name=tag.mem','dc=us')", "tag.cpu;dc=eu;host=web1", "seriesByTag('name=tag.io')"]
# Optional arguments always given: verticalLine's series without a label is named Python's
# None in graphite-web (a documented difference).
ALWAYS = {"verticalLine.label", "timeSlice.endSliceAt"}  # ("now": graphite's wall clock)
# Functions whose values are Python ints in graphite-web: a tag made of a value (offsetToZero's
# minimum) reads `1` there, `1.0` in tally, which keeps no int/float distinction (README).
INT_VALUES = ("isNonNull(", "countSeries(", "identity(", "time(", "timeFunction(", "constantLine(",
              "threshold(", "changed(", "transformNull(", "aggregateLine(")
INTERVALS = ["1min", "5min", "10min", "30min", "1h", "-1h", "-10min", "2min", "3min", "90s"]
TAGS = ["dc", "host", "name", "unit", "dev"]

# Strings by parameter name (or function.parameter): values the function can read.
STRINGS = {
    "newName": ["renamed", "total", "a b"],
    "aliasSub.search": [r"cmp\.(\w+)\.(\w+)", "^cmp", "x$", r"(\d+)"],
    "aliasSub.replace": [r"\2-\1", "c", "X", r"n\1"],
    "aliasQuery.search": [r"cmp\.(\w+)\.x"],
    "aliasQuery.replace": [r"cmp.\1.y"],
    "aliasQuery.newName": ["%d", "y=%g", "%.2f"],
    "useSeriesAbove.search": ["x"],
    "useSeriesAbove.replace": ["y"],
    "templateFunction": ["sumSeries(%)", "maxSeries(%.*)", "averageSeries(%.x)"],
    "applyByNode.newName": ["%.total", "%"],
    "pattern": ["x", r"^cmp\.a", "b|c", "counter", "nomatch"],
    "theColor": ["red", "00ff00"],
    "units": ["b", "ms"],
    "intervalUnit": ["10min", "1h", "1min"],
    "name": ["t1", "cmp.made"],
    "stack": ["s1"],
    "label": ["limit"],
    "color": ["blue"],
    "tags": ["deploy", "web1", "ops", "*"],
    "tagExpressions": ["name=tag.cpu"],
}


def load(path):
    funcs = json.load(open(path))
    out = {}
    for name, f in funcs.items():
        params = f["params"] if isinstance(f, dict) else f
        if name not in SKIP and not name.startswith("pie"):
            out[name] = params or []
    return dict(sorted(out.items()))


class Gen:
    def __init__(self, funcs, rnd):
        self.funcs, self.rnd = funcs, rnd
        self.names = list(funcs)

    def pick(self, xs):
        return self.rnd.choice(xs)

    def series(self, depth):
        r = self.rnd.random()
        if depth > 0 and r < 0.45:
            return self.call(depth - 1)
        if r < 0.55:
            return self.pick(TAGGED)
        return self.pick(PATHS) if r < 0.75 else self.pick(GLOBS)

    def number(self, fname, pname, ty):
        rnd = self.rnd
        if pname == "xFilesFactor":
            return self.pick(["0", "0.5", "1", "0.1"])
        if pname in ("n",) and ty == "integer":
            return self.pick(["1", "2", "3", "0", "5"])
        if pname == "n":  # percentiles and thresholds
            return self.pick(["0", "10", "50", "90", "100", "25.5", "5", "-1", "1000"])
        if pname == "steps":  # delay(x, 0) is a documented graphite-web bug
            return self.pick(["1", "2", "5", "-1"])
        if pname in ("points", "precision", "pos", "timeShiftStart", "timeShiftEnd",
                     "dashLength", "delta", "amplitude"):
            return self.pick(["0", "1", "2", "3", "5"]) if pname != "points" else self.pick(["1", "3", "5"])
        if pname == "base":
            return self.pick(["2", "10", "3"])
        if pname == "step":
            return self.pick(["60", "120", "30"])
        if pname in ("alpha",):
            return self.pick(["0", "0.5", "1"])
        if pname == "windowTolerance":
            return self.pick(["0", "0.1", "0.5", "1"])
        if pname in ("minValue", "maxValue"):
            return self.pick(["0", "100", "500", "-5"])
        if pname == "seconds":
            return self.pick(["1", "60", "0.5"])
        if ty == "integer":
            return str(rnd.randint(-2, 10))
        return self.pick(["0", "1", "2.5", "-1", "0.5", "10", "100", "-3.25", "1e3"])

    def value(self, fname, p, depth):
        """One argument for parameter p of function fname (as target text)."""
        ty, pname = p.get("type"), p.get("name", "")
        opts = [o for o in p.get("options") or [] if isinstance(o, str)]
        if ty in ("seriesList", "seriesLists") and fname == "applyByNode":
            # Its template is filled with name prefixes: a function's name makes a broken
            # target, which graphite-web reads a prefix of by accident (README).
            return self.pick(PATHS[:3] + GLOBS[:5])
        if ty in ("seriesList", "seriesLists"):
            return self.series(depth)
        if ty in ("aggFunc", "aggOrSeriesFunc") or (opts and ty == "string"):
            return repr(self.pick(opts or ["sum", "average", "max"]))
        if ty == "boolean":
            return self.pick(["true", "false", "True", "False", "1", "0"] if self.rnd.random() < 0.2 else ["true", "false"])
        if ty == "interval":
            if pname == "bootstrapInterval" or pname == "seasonality":
                return repr(self.pick(["30min", "1h", "10min"]))
            if pname == "timeShiftUnit":
                return repr(self.pick(["10min", "5min"]))
            if pname == "timeShift":
                return repr(self.pick(INTERVALS))
            # graphite-web loops forever over a negative summarize interval.
            return repr(self.pick(INTERVALS).lstrip("-"))
        if ty == "intOrInterval":
            return self.pick([repr(self.pick(INTERVALS).lstrip("-")), self.pick(["1", "3", "5", "10", "0"])])
        if ty == "intOrInf":
            return self.pick(["0", "1", "2", "5"])
        if fname == "applyByNode" and pname == "nodeNum":
            # Past the name's nodes graphite-web 1.1.10 takes the whole name (its master branch
            # refuses, as tally does); -1 makes a broken template (`sumSeries(.x)`).
            return self.pick(["0", "1"])
        if ty in ("node",):
            return self.pick(["0", "1", "2", "-1", "3"])
        if ty in ("nodeOrTag", "tag"):
            return self.pick(["0", "1", "2", "-1"]) if ty == "nodeOrTag" and self.rnd.random() < 0.6 else repr(self.pick(TAGS))
        if ty == "date":
            return repr(self.pick(["{S+30min}", "{S+1h}", "{S+10min:%H:%M_%Y%m%d}", "{S}"]))
        if ty == "any":  # asPercent's total: a number or a series list
            return self.pick(["100", "50.5", self.series(depth)])
        if ty in ("integer", "float"):
            return self.number(fname, pname, ty)
        vals = STRINGS.get(f"{fname}.{pname}") or STRINGS.get(pname) or ["x"]
        return repr(self.pick(vals))

    def call(self, depth):
        name = self.pick(self.names)
        params = self.funcs[name]
        args, keyword = [], False
        for i, p in enumerate(params):
            required = p.get("required", False) or f"{name}.{p.get('name')}" in ALWAYS
            if not required and self.rnd.random() < 0.5:
                # An optional argument left out: later ones must be keywords.
                keyword = True
                continue
            if p.get("multiple"):
                n = self.rnd.randint(1 if required else 0, 3)
                if keyword and n:
                    continue  # *args cannot follow a keyword
                args += [self.value(name, p, depth) for _ in range(n)]
                continue
            v = self.value(name, p, depth)
            use_kw = keyword or (not required and i > 0 and self.rnd.random() < 0.2)
            if use_kw and p.get("type") in ("seriesList", "seriesLists"):
                break  # a series list by keyword is a documented graphite-web bug
            if use_kw:
                keyword = True
                args.append(f"{p['name']}={v}")
            else:
                args.append(v)
        return f"{name}({', '.join(args) if self.rnd.random() < 0.5 else ','.join(args)})"

    def reduce(self):
        """reduceSeries over mapSeries: the one place a list of lists is read."""
        fn = self.pick(["asPercent", "diffSeries", "divideSeries", "sumSeries"])
        return f"reduceSeries(mapSeries(cmp.*.*, 1), {fn!r}, 2, 'x', 'y')"

    def target(self):
        if self.rnd.random() < 0.02:
            return self.reduce()
        t = self.call(self.rnd.randint(0, 2))
        if self.rnd.random() < 0.08:
            t += f" &maxDataPoints={self.pick(['7', '50', '119'])}"
        # Documented graphite-web bugs (README): the Holt-Winters bands share one tags dict
        # (tags not compared); compressPeriodicGaps skips a first value at index 0 (any
        # difference expected).
        if "compressPeriodicGaps" in t:
            return "!! " + t
        ints = "offsetToZero(" in t and any(f in t for f in INT_VALUES)
        return "! " + t if "holtWintersConfidence" in t or ints else t


def main():
    funcs, seed, count = load(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    gen = Gen(funcs, random.Random(seed))
    seen = set()
    for _ in range(count * 3):
        t = gen.target()
        if t not in seen:
            seen.add(t)
            print(t)
        if len(seen) == count:
            break


if __name__ == "__main__":
    main()
