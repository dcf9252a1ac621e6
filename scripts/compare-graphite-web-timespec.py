#!/usr/bin/env python3
"""Random /render requests that vary the time and render parameters, for
scripts/compare-graphite-web.sh (standard library only).

    compare-graphite-web-timespec.py SEED COUNT  > requests

Each line is a whole request (`/render?target=…&from=…`), in the targets files' format: `{T}`,
`{T-6h}` are times of the second set's data (its anchor, about when the script started), `{S}`
of the first set's; `{T-1d:%Y%m%d}` writes one with a strftime format (UTC). What varies:
`from`/`until` in graphite's parseATTime forms (relative offsets in every unit spelling, `now`,
epoch seconds, `HH:MM_YYYYMMDD`, `YYYYMMDD`, `MM/DD/YY[YY]`, month and weekday names,
`midnight`/`noon`/`teatime`, `yesterday`/`today`/`tomorrow`, combinations and offsets on them,
invalid ones), either left out (graphite's defaults `-1d` and `now`), reversed or equal; `tz`
(zones, an offset, case, unknown); `now` (most requests pin it to `{N}`, when the comparison
began, so that relative times are exact; some to earlier times; the others run against the wall
clock, which the harness keeps in one 10 s step for both servers); `maxDataPoints`, `noNullPoints` and `format` (json, csv, raw,
pickle). The same seed and count give the same lines.
"""
import random
import re
import sys
import urllib.parse

# Not tiers.gappy.x: its 10 s gaps read from the 1 h tier are a Whisper-averaging case (README);
# timeFunction at a day's step: graphite-web builds it point by point from any `from` (1970…).
TARGETS = ["tiers.web1.load", "tiers.web3.req", "sumSeries(tiers.*.req)", "tiers.neg.y",
           "cmp.a.x", "cmp.*.y", "seriesByTag('name=tag.cpu')", "tiers.web{1,2}.load",
           "summarize(tiers.web2.load, '1h', 'avg')", "summarize(tiers.web1.req, '1d', 'sum', true)",
           "timeShift(tiers.web1.load, '1h')", "hitcount(tiers.web3.req, '10min')",
           "movingAverage(tiers.web2.load, '30min')", "nonNegativeDerivative(tiers.web1.req)",
           "timeFunction('t', 86400)", "constantLine(5)", "cmp.nothing"]

RELATIVE = ["-30s", "-90s", "-10min", "-90min", "-1h", "-3hours", "-6h", "-1d", "-2d", "-36h",
            "-1w", "-8d", "-1mon", "-1y", "-1minute", "-2days", "-1h30min", "-1d2h", "now-1h",
            "now-2d", "now", "-0s", "-45minutes", "-2weeks", "-25d", "-40d", "-1seconds", "+1h",
            "now+30min", "-7d", "-169h"]
ABSOLUTE = ["{T-6h}", "{T-2d}", "{T-25d}", "{T-40d}", "{T-1h}", "{T-10min}", "{T+1h}", "{S}",
            "{S+30min}", "{S-1h}", "{T-1h:%H:%M_%Y%m%d}", "{T-3d:%Y%m%d}", "{T-1d:%m/%d/%y}",
            "{T-1d:%m/%d/%Y}", "{T-2h:%H:%M%Y%m%d}", "{T-2h:%I:%M%p_%Y%m%d}", "{T-2d:%b%d}",
            "{T-3d:%B %d}", "{T-2d:%A}", "{T:%a}", "{T-5h:%H:%M}", "{T-1d:%Y%m%d}+6h",
            "{T-12d:%Y%m%d}-1d", "{S:%H:%M_%Y%m%d}", "{T-3h:%Ham}", "{T-3h:%I%p}", "20241340",
            "0", "1000000000"]
NAMED = ["midnight", "noon", "teatime", "yesterday", "today", "tomorrow", "noon yesterday",
         "noon_yesterday", "midnight-1d", "6pm yesterday", "6pmyesterday", "9am", "9:30am",
         "monday", "sunday+12h", "noon monday", "jan1", "dec1", "midnight+2h", "yesterday-6h",
         "tomorrow+1d", "teatime today", "8am today", "23:59", "00:00 yesterday", "3am tomorrow",
         "midnight_tomorrow+3h", "friday", "Saturday", "Noon", "MIDNIGHT", "12:5", "12:05pm",
         "12am", "12pm", "now-1d", "yesterday+1h30min", "teatime-2d"]
INVALID = ["garbage", "-1m", "-1x", "now-", "noon+yesterday", "25:00", "feb30", "-h", "1h",
           "jan", "99999999999999999999", "-1.5h", "1700000000.5", "-", "+", "yesterday+",
           "13/45/2024", "now - 1h", "-1d-2h", "tomorrowish", "20240230", "1e9", "-5", "24:00"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Adelaide",
         "Etc/GMT+5", "utc", "Mars/Olympus", "", "+02:00", "EST", "US/Pacific", "europe/berlin"]


def when(rnd):
    r = rnd.random()
    if r < 0.35:
        return rnd.choice(RELATIVE)
    if r < 0.6:
        return rnd.choice(ABSOLUTE)
    if r < 0.9:
        return rnd.choice(NAMED)
    return rnd.choice(INVALID)


def request(rnd):
    q = [("target", rnd.choice(TARGETS))]
    if rnd.random() < 0.1:
        q.append(("target", rnd.choice(TARGETS)))
    r = rnd.random()
    if r < 0.05:
        pass  # both left out: -1d to now
    elif r < 0.15:
        q.append(("from", when(rnd)))  # until left out: now
    elif r < 0.2:
        q.append(("until", when(rnd)))  # from left out: -1d
    elif r < 0.25:
        t = when(rnd)
        q += [("from", t), ("until", t)]  # an empty range
    else:
        q += [("from", when(rnd)), ("until", when(rnd))]
    if rnd.random() < 0.6:
        q.append(("tz", rnd.choice(ZONES)))
    r = rnd.random()
    if r < 0.7:
        q.append(("now", "{N}"))
    elif r < 0.8:
        q.append(("now", rnd.choice(["{N-1d}", "{N:%H:%M_%Y%m%d}", "{N-2h}", "noon", "{S+1h}"])))
    r = rnd.random()
    if r < 0.15:
        q.append(("maxDataPoints", rnd.choice(["1", "7", "50", "500", "abc", "-5", "2.5", ""])))
    if rnd.random() < 0.1:
        q.append(("noNullPoints", rnd.choice(["1", "true", "", "false", "0"])))
    q.append(("format", rnd.choices(["json", "csv", "raw", "pickle"], [6, 2, 1, 1])[0]))
    line = "/render?" + urllib.parse.urlencode(q, safe="{}:%/")
    # The harness's placeholders keep their `+` ({T+1h}); the times they stand for are digits.
    line = re.sub(r"\{[^}]*\}", lambda m: m.group(0).replace("%2B", "+"), line)
    return known(dict(q), line) + line


def known(q, line):
    """The documented differences (README), marked as the targets files mark them."""
    tz = q.get("tz", "UTC")
    # graphite-web's timeFunction reads the request's zoned times as the server's local time
    # (time.mktime of a zoned time tuple): its points move by the zone's offset.
    if "timeFunction" in line and tz.lower() not in ("utc", "", "mars/olympus", "+02:00"):
        return "!! "
    # An unknown zone, which graphite-web replaces by its TIME_ZONE, is a 400 in tally, and a
    # fixed offset (+02:00) a zone; maxDataPoints that is not digits, which graphite-web
    # ignores, is a 400.
    # A `now` before the wall clock: tally's tiers keep what the wall clock's retention keeps,
    # whisper's ring still holds the older points it has not yet overwritten.
    mdp = q.get("maxDataPoints", "1")
    past = q.get("now", "{N}") not in ("{N}",)
    # A day back from a pinned `now` reaches the 10 s tier's edge, which the wall clock, a
    # minute or two later, has moved: the same as above for its first slots.
    past = past or "now" in q and q.get("from", "-1d") in ("-1d", "now-1d")
    if tz in ("Mars/Olympus", "+02:00") or mdp and not mdp.isdigit() or past:
        return "? "
    return ""


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    rnd = random.Random(seed)
    seen = set()
    for _ in range(count * 3):
        line = request(rnd)
        if line not in seen:
            seen.add(line)
            print(line)
        if len(seen) == count:
            break


if __name__ == "__main__":
    main()
