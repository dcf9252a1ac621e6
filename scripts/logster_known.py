"""The known differences between etsy Logster's parsers and tally's, for compare-logster.py:
each with its reason. Lines a KNOWN rule matches are replayed apart and their differences shown,
not counted; so are KNOWN_KEYS (by key) and KNOWN_FAILURES (by Logster's error)."""

# Known differences, by line: (log, regex searched in the line, reason). The lines of a log that
# match are replayed apart; the rest must give the same answer in both. A known set that no
# longer differs is reported as such.
NO_HTTP1 = ("a request without `HTTP/1.x` (HTTP/2, a timeout's `-`, TLS bytes sent to a plain "
            "port, no protocol): Logster's sample regex needs `HTTP/1.\\d\"`; tally counts every "
            "request")
ODD_STATUS = ("a status outside 100-599: Logster files 000 under 1xx and 999 under 5xx; tally "
              "names the class by the first digit (0xx, 9xx)")
LOG4J_TIME = ("Logster's regex wants the time as one run of digits and `-_:.` right before the "
              "level: it misses ISO 8601 with a space or `T`, a comma before the millis, a zone, "
              "a [thread] and Spring Boot's padding; tally reads them")
NO_HTTP1_RE = r'^(?!.*HTTP/1.\d" \d{3} ).*" \d{3} '
ODD_STATUS_RE = r'" (0\d\d|[6-9]\d\d) '
USER_SPACE_RE = r'^\S[^[]*  [^[]*\[\d\d/'
USER_SPACE = ("two spaces between the fields before the time (no Apache or nginx format writes "
              "them: a damaged line): tally reads single-space-separated fields before the time; "
              "Logster looks only at the protocol and status")
CUT_AFTER_STATUS_RE = r'HTTP/1.\d" \d{3} \s*$'
CUT_AFTER_STATUS = ("a line cut right after the status and its space: Logster counts the status; "
                    "tally wants the size after it")
KNOWN = [
    ('*', '\ufffd',
     "a line that is not UTF-8: Logster (Python 3, pygtail) dies with UnicodeDecodeError and "
     "reports nothing for the whole run; tally matches bytes"),
    ('json_strings', r'.',
     "a string or boolean leaf: Logster's JsonLogster calls `long` (Python 2 only) and dies "
     "under Python 3; tally makes gauges of the numeric leaves"),
    ('access', NO_HTTP1_RE, NO_HTTP1),
    ('access', ODD_STATUS_RE, ODD_STATUS),
    ('access', USER_SPACE_RE, USER_SPACE),
    ('nginx', NO_HTTP1_RE, NO_HTTP1),
    ('nginx', ODD_STATUS_RE, ODD_STATUS),
    ('nginx', USER_SPACE_RE, USER_SPACE),
    ('access', CUT_AFTER_STATUS_RE, CUT_AFTER_STATUS),
    ('nginx', CUT_AFTER_STATUS_RE, CUT_AFTER_STATUS),
    ('squid', r'/(0\d\d|[6-9]\d\d) ', ODD_STATUS),
    ('squid', r'TAG_NONE',
     "Squid's TAG_NONE code (an invalid request): Logster's regex knows TCP_, UDP_ and NONE_ "
     "codes only and skips the line; tally counts it (http_4xx, squid_OTHER)"),
    ('log4j', r'^(\d\d:\d\d:\d\d,|\d{4}-\d\d-\d\d[T ]\d\d|\S+ +\[[^]]*\] +[A-Z])', LOG4J_TIME),
    ('log4j', r'^[\d_:.-]+( {2,}|\t) *(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\b',
     "a level padded on the left (`%5p`: ` INFO`, ` WARN`) or after a tab: Logster's regex wants "
     "one space before the level; tally reads any run of spaces"),
    ('log4j', r'^[-_:.]+ (TRACE|DEBUG|INFO|WARN|ERROR|FATAL)',
     "no time but a `-` (or `:`, `.`, `_`) before the level: Logster's class of time "
     "characters takes it for a time; tally wants a digit"),
    ('log4j', r'^[\d_:.,T+Z-]+ +(\[[^]]*\] +)?(trace|debug|info|warn|error|fatal)\b',
     "a lower-case level (log4j2's `%level{lowerCase=true}`): Logster's regex wants capitals; "
     "tally reads both"),
    ('log4j', r' SEVERE\b',
     "java.util.logging's SEVERE: tally counts level.severe; Logster is given log4j's six levels"),
    ('log4j', r' WARNING ',
     "java.util.logging's WARNING: Logster counts it as WARN (its regex has no word boundary); "
     "tally as level.warning"),
    ('log4j', r'^[\d_:.-]+ (TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\w',
     "`ERRORS`, `INFORMATION`, `ERROR_CODE`: Logster counts them as ERROR, INFO (no word "
     "boundary); tally wants the whole word"),
    ('error', r'^\[[^]]+\] \[[a-z0-9_]*:',
     "Apache 2.4's `[module:level]`: Logster's regex knows only 2.2's `[level]` and skips the "
     "line; tally counts it"),
    ('error', r'^\[[^]]+\] \[\w+\]\r?$',
     "a level with no message after it: Logster's regex wants a space after `]`"),
    ('error', r'^\[[^]]+\] \[[^]]*[A-Z]',
     "`[Error]`, `[WARN]` are no Apache levels (they are lower case): Logster counts them as "
     "other, tally skips them"),
    ('error', r'^\[(?![A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(\.\d+)? \d{4}\]|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\])',
     "a first bracket that is no Apache time (`%t`, `%{u}t`, `%{cu}t`): Logster takes any text "
     "there; tally reads the time and skips the line"),
    ('squid', r'/\d{3} \d+\s*$',
     "a line cut right after the size: Logster counts the status; tally wants the method after "
     "it (a line it reads has all the fields up to the method)"),
    ('json', r'^\s*\[',
     "a line that is a JSON array: Logster names its items 0, 1, …; tally reads objects only"),
    ('postfix', r'status=\w+.*status=(sent|deferred|bounced)',
     "a second `status=` in the reply text (`status=bounced (… status=sent …)`): Logster's "
     "greedy `.*status=` reads the last one; tally the delivery's own"),
    ('json', r'\bNaN\b|\bInfinity\b|\d[eE]\d{3}',
     "NaN, Infinity or a number beyond a double (1e400) is no JSON: Python's json reads them "
     "(nan, inf), tally rejects the line"),
]

# Known differences by key (a regex of the whole key), in what is compared after the lines
# above are set apart.
KNOWN_KEYS = [
    ('json', r'.*(with space|sl/ash|dot\.key).*',
     "a JSON key with a space, a slash or a dot: tally makes one node of it (`with_space`, "
     "`sl-ash`, `dotkey`); Logster sends it as it is (see json_odd_keys)"),
    ('json_odd_keys', 'my key',
     "a JSON key with a space: Logster sends `my key` (a space splits a Graphite line: carbon "
     "reads a wrong name and value); tally names it `my_key`"),
    ('json_odd_keys', 'x/y',
     "a JSON key with a slash: Logster sends `x/y` (a directory in carbon's Whisper tree); "
     "tally names it `x-y`, as it makes every captured node"),
    ('json_odd_keys', 'a.b',
     "a JSON key with a dot: Logster sends `a.b`, two Graphite nodes that read as {a: {b: …}}; "
     "tally keeps the key one node and drops the dot (`ab`)"),
    ('json_odd_keys', 'c.d.e', "the same for a nested key with a dot: tally sends `c.de`"),
    ('squid', 'size',
     "size: Logster's regex reads the second field, which in Squid's native format is the "
     "elapsed time (ms); tally sums the reply size (and times `elapsed` as a timer)"),
]

# Known differences by Logster's failure (the JSON lines of --random are compared one by one).
KNOWN_FAILURES = [
    ('json', r"TypeError: '(int|float|NoneType|bool)' object is not iterable",
     "a line that is a JSON number or null: Logster's JsonLogster dies on it (TypeError) and "
     "reports nothing for the run; tally skips the line"),
    ('json', r"name 'long' is not defined",
     "a string, boolean or null leaf: Logster's JsonLogster calls `long` (Python 2 only) and "
     "dies under Python 3; tally makes gauges of the numeric leaves"),
]
