"""A `tally run` for the side-by-side scripts (compare-carbon.py, compare-statsd.py): started with
a config file, its JSON log written to a file, and the addresses it listens on read from that
log ("HTTP listening.", "Carbon listening on udp." … → (host, port)). Standard library only."""

import json
import subprocess
import sys
import time


def start(binary, conf, log_path, wanted, tries=300):
    """Runs `binary run -c conf` and waits until every message in `wanted` has logged its
    address; returns (process, {message: (host, port)}). Exits with the log's tail when tally
    exits or does not start."""
    proc = subprocess.Popen([binary, '--log-format', 'json', 'run', '-c', conf],
                            stdout=subprocess.DEVNULL, stderr=open(log_path, 'w'))
    for _ in range(tries):
        if proc.poll() is not None:
            sys.exit('tally exited: %s' % open(log_path).read()[-2000:])
        addrs = {}
        for line in open(log_path):
            v = json.loads(line).get('fields', {}) if line.startswith('{') else {}
            if 'addr' in v:
                host, port = v['addr'].rsplit(':', 1)
                addrs[v['message']] = (host, int(port))
        if all(w in addrs for w in wanted):
            return proc, addrs
        time.sleep(0.1)
    sys.exit('tally did not start')
