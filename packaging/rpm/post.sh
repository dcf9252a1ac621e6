# tally %post — what %systemd_post does, written out (cargo-generate-rpm has no rpm macros):
# on first install ($1 = 1) enable and start; on upgrade the %postun restarts it.
install -d -m 0750 -o tally -g tally /var/lib/tally
# The StatsD receive buffer (60-tally.conf), before the service starts.
sysctl -q -p /usr/lib/sysctl.d/60-tally.conf >/dev/null 2>&1 || :
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        systemctl enable --now tally.service >/dev/null 2>&1 || :
    fi
fi
exit 0
