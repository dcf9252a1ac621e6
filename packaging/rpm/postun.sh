# tally %postun — %systemd_postun_with_restart: reload units; on upgrade ($1 >= 1) restart the
# running daemon (its SIGTERM path commits every bucket and offset first). On erase the data in
# /var/lib/tally and a modified /etc/tally/tally.yaml (saved as .rpmsave) are kept: rpm has no
# purge; remove them by hand.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart tally.service >/dev/null 2>&1 || :
    fi
fi
exit 0
