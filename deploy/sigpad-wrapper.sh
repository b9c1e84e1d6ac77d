#!/bin/sh
# /usr/local/bin/sigpad: the sigpad CLI with the service's config
# (/etc/sigpad/sigpad.toml) and, under sudo, as the service's user, so that
# the store it writes stays readable by the service.
set -eu
has_config=0
for a in "$@"; do
    case $a in --config|--config=*) has_config=1 ;; esac
done
# --config belongs after the subcommand; `sigpad --help` has none.
if [ "$has_config" = 0 ] && [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    set -- "$@" --config /etc/sigpad/sigpad.toml
fi
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1; then
    exec runuser -u sigpad -- /opt/sigpad/bin/sigpad "$@"
fi
exec /opt/sigpad/bin/sigpad "$@"
