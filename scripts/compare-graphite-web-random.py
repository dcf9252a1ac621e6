#!/usr/bin/env python3
"""Random but valid graphite targets for scripts/compare-graphite-web.sh (standard library only).

    compare-graphite-web-random.py FUNCTIONS.json SEED COUNT [tiers]  > targets

FUNCTIONS.json is graphite-web's function list as its /functions answers it (name → {params:
[{name, type, required, multiple, options, default}]}, or name → [params]); the script asks
graphite-web's own registry for it at run time. Each target is a nested expression (depth 1 to
3) over the first set's data (`cmp.*`, its tagged series and events): series lists from paths,
globs and nested calls, numbers, strings, intervals, node indexes, aggregation names; optional
arguments present or absent, some given by keyword. The same list, seed and count give the same
targets (one per line, in the targets file's format: `{S+30min}` is a time of the data).
With `tiers` the same generator builds targets over the tiers set's data instead (`tiers.*`,
three tiers: 10 s for a day, 1 min for 7 days, 1 h for 30 days, data for 20 days), each with a
from/until range from RANGES (most cross a tier's edge or the edge where the data went from one
point a minute to one every 10 s) and often a maxDataPoints, so that what is compared includes
the tier read and the consolidation across the edges.
"""
import json
import random
import re
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
# The tiers set's data (scripts/compare-graphite-web.sh, "The second set").
TIER_PATHS = ["tiers.web1.load", "tiers.web2.load", "tiers.web3.load", "tiers.web1.req",
              "tiers.web2.req", "tiers.web3.req", "tiers.neg.y", "tiers.gappy.x"]
TIER_GLOBS = ["tiers.web*.load", "tiers.web*.req", "tiers.web{1,3}.req", "tiers.web[12].*",
              "tiers.*.y", "tiers.*.*", "tiers.web2.*", "tiers.nothing.*", "tiers.{neg,gappy}.*"]
# Ranges relative to the tiers data's anchor {T} (the wall clock is tens of seconds after it):
# within the 10 s tier, across the edge at 1 d (the 1 min tier is read) and at 7 d (the 1 h tier),
# before the data's start (20 d) and past the longest retention, and after {T} under a pinned
# `now`. None is 1 d +- a few minutes from the wall clock (tally drops the 10 s tier's buckets by
# the wall clock's day, whisper keeps a slot until it is overwritten: README, "? " cases).
# Each with what the Whisper-averaging cases depend on (README, "Where this differs"; marked
# "~"): tally merges buckets exactly (every raw point weighs alike, and consolidateBy's
# sum/min/max/last read the bucket's own field), Whisper averages the averages it stored. So:
# the tier step read (0: the 10 s tier, where every slot holds one point), the slots read, and
# whether the range holds an edge where the data changed resolution (1 min to 10 s a little
# after {T-1d}, 1 h to 1 min a little after {T-7d}) or a 1 h slot over the last day (where
# tiers.gappy.x misses single 10 s points).
RANGES = [  # (range, coarse step, slots, a resolution edge, 1 h slots over the last day)
    ("from={T-6h}&until={T}", 0, 2160, False, False),
    ("from={T-23h}&until={T}", 0, 8280, False, False),
    ("from={T-23h}&until={T-20h}", 0, 1080, False, False),
    ("from={T-25h}&until={T}", 60, 1500, True, False),
    ("from={T-26h}&until={T-22h}", 60, 240, True, False),
    ("from={T-2d}&until={T-12h}", 60, 2160, True, False),
    ("from={T-3d}&until={T}", 60, 4320, True, False),
    ("from={T-6d}&until={T-20h}", 60, 7440, True, False),
    ("from={T-8d}&until={T-6d}", 3600, 48, True, False),
    ("from={T-8d}&until={T}", 3600, 192, True, True),
    ("from={T-14d}&until={T}", 3600, 336, True, True),
    ("from={T-21d}&until={T-19d}", 3600, 48, False, False),
    ("from={T-30d}&until={T-5d}", 3600, 600, True, False),
    ("from={T-40d}&until={T}", 3600, 720, True, True),
    ("from=-2d&until=now&now={T}", 60, 2880, True, False),
    ("from={T-3h}&until={T+2h}&now={T}", 0, 1080, False, False),
]
# Functions that read before `from` (another tier, whatever the range): smartSummarize and
# hitcount align `from` back to a whole unit (`alignTo='years'` reads from January 1st).
EARLIER = ("timeShift(", "timeStack(", "moving", "holtWinters", "exponentialMovingAverage(",
           "linearRegression(", "smartSummarize(", "hitcount(")
# Functions under which tally merges buckets for maxDataPoints at read time (they change no
# values: README, "Which tier is read"); a path is merged when every function above it is one
# of these, so at least the outermost; under any other the renderer consolidates the values
# read, as graphite-web does.
TRANSPARENT = {"alias", "aliasByMetric", "aliasByNode", "aliasByTags", "aliasQuery", "aliasSub",
               "alpha", "areaBetween", "color", "consolidateBy", "cumulative", "dashed",
               "drawAsInfinite", "exclude", "fallbackSeries", "grep", "group", "limit",
               "lineWidth", "lower", "secondYAxis", "sortByName", "substr", "unique", "upper"}
TIER_INTERVALS = ["6h", "1d", "-1d", "7d"]
MAX_POINTS = ["1", "7", "50", "100", "333", "500", "960"]
TIER_STRINGS = {
    "aliasSub.search": [r"tiers\.(\w+)\.(\w+)", "^tiers", "load$", r"(\d+)"],
    "aliasQuery.search": [r"tiers\.(\w+)\.load"],
    "aliasQuery.replace": [r"tiers.\1.req"],
    "useSeriesAbove.search": ["load"],
    "useSeriesAbove.replace": ["req"],
    "templateFunction": ["sumSeries(%)", "maxSeries(%.*)", "averageSeries(%.load)"],
    "pattern": ["load", r"^tiers\.web1", "neg|gappy", "req", "nomatch"],
    "name": ["t1", "tiers.made"],
}
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
    def __init__(self, funcs, rnd, tiers=False):
        self.funcs, self.rnd, self.tiers = funcs, rnd, tiers
        self.names = list(funcs)
        self.paths = TIER_PATHS if tiers else PATHS
        self.globs = TIER_GLOBS if tiers else GLOBS
        # The tiers data has no tagged series: its paths stand in.
        self.tagged = TIER_PATHS if tiers else TAGGED
        self.strings = {**STRINGS, **TIER_STRINGS} if tiers else STRINGS
        self.intervals = INTERVALS + TIER_INTERVALS if tiers else INTERVALS
        self.dates = (["{T-3h}", "{T-1d}", "{T-2h:%H:%M_%Y%m%d}", "{T-10d}"] if tiers
                      else ["{S+30min}", "{S+1h}", "{S+10min:%H:%M_%Y%m%d}", "{S}"])

    def pick(self, xs):
        return self.rnd.choice(xs)

    def series(self, depth):
        r = self.rnd.random()
        if depth > 0 and r < 0.45:
            return self.call(depth - 1)
        if r < 0.55:
            return self.pick(self.tagged)
        return self.pick(self.paths) if r < 0.75 else self.pick(self.globs)

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
            return self.pick(self.paths[:3] + self.globs[:5])
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
                return repr(self.pick(self.intervals))
            # graphite-web loops forever over a negative summarize interval.
            return repr(self.pick(self.intervals).lstrip("-"))
        if ty == "intOrInterval":
            return self.pick([repr(self.pick(self.intervals).lstrip("-")), self.pick(["1", "3", "5", "10", "0"])])
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
            return repr(self.pick(self.dates))
        if ty == "any":  # asPercent's total: a number or a series list
            return self.pick(["100", "50.5", self.series(depth)])
        if ty in ("integer", "float"):
            return self.number(fname, pname, ty)
        vals = self.strings.get(f"{fname}.{pname}") or self.strings.get(pname) or ["x"]
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
        if self.tiers:
            return f"reduceSeries(mapSeries(tiers.web*.*, 1), {fn!r}, 2, 'load', 'req')"
        return f"reduceSeries(mapSeries(cmp.*.*, 1), {fn!r}, 2, 'x', 'y')"

    @staticmethod
    def averaging(t, rng, mdp):
        """Whether t may meet a Whisper-averaging case (RANGES, above)."""
        _, step, slots, edge, last_day = rng
        gappy = "gappy" in t or "tiers.*.*" in t
        consolidate = "consolidateBy(" in t or "cumulative(" in t
        if any(f in t for f in EARLIER):
            return bool(mdp) or gappy or consolidate
        if not step:
            return False
        # A name made of a value (aggregateLine's, legendValue's, cactiStyle's) shows its last
        # digits, which a mean of means and a mean of raw points round differently; minMax
        # divides such rounding by the series' range, which is itself rounding where the series
        # is flat (tiers.web2.load's hourly means are all 52.8 when the last hour is whole), and
        # stdev's sum of squares less the squared sum cancels all but it (a ramp's 3 points).
        if any(f in t for f in ("aggregateLine(", "legendValue(", "cactiStyle(", "minMax(", "stdev(")):
            return True
        outer = re.match(r"(\w+)\(", t)
        merged = mdp is not None and slots > int(mdp) and edge \
            and (outer is None or outer.group(1) in TRANSPARENT)
        return merged or gappy and last_day or consolidate and (edge or last_day)

    def target(self):
        if self.rnd.random() < 0.02:
            t = self.reduce()
            if not self.tiers:
                return t
        else:
            t = self.call(self.rnd.randint(0, 2))
        rng = mdp = None
        if self.tiers:
            rng = self.pick(RANGES)
            t += " &" + rng[0]
            if self.rnd.random() < 0.5:
                mdp = self.pick(MAX_POINTS)
                t += f"&maxDataPoints={mdp}"
        elif self.rnd.random() < 0.08:
            t += f" &maxDataPoints={self.pick(['7', '50', '119'])}"
        # Documented graphite-web bugs (README): the Holt-Winters bands share one tags dict
        # (tags not compared); compressPeriodicGaps skips a first value at index 0 (any
        # difference expected).
        avg = "~ " if self.tiers and self.averaging(t, rng, mdp) else ""
        if "compressPeriodicGaps" in t:
            return avg + "!! " + t
        ints = "offsetToZero(" in t and any(f in t for f in INT_VALUES)
        return avg + ("! " + t if "holtWintersConfidence" in t or ints else t)


def main():
    funcs, seed, count = load(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    tiers = sys.argv[4:] == ["tiers"]
    # The tiers targets draw from their own generator (seed and "tiers"), so they do not shift
    # the first set's targets of the same seed.
    gen = Gen(funcs, random.Random(f"{seed} tiers" if tiers else seed), tiers)
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
