# tally %preun — %systemd_preun: on erase ($1 = 0) stop and disable; not on upgrade.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl disable --now tally.service >/dev/null 2>&1 || :
fi
exit 0
