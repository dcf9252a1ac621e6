# tally %pre: the service user, in `adm` where the distribution has it (log readers).
getent group tally >/dev/null || groupadd --system tally
if ! getent passwd tally >/dev/null; then
    useradd --system --gid tally --home-dir /var/lib/tally --no-create-home \
        --shell /sbin/nologin --comment "tally metrics agent" tally
fi
if getent group adm >/dev/null; then
    usermod --append --groups adm tally
fi
exit 0
