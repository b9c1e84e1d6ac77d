#!/usr/bin/env bash
# Remove sigpad. Keeps /etc/sigpad and /var/lib/sigpad (enrolled users, key)
# unless --purge: reinstalling then finds the users again.
#   sudo /opt/sigpad/share/uninstall.sh [--purge] [--root DIR]
set -euo pipefail
die() { echo "uninstall.sh: error: $*" >&2; exit 1; }
ROOT=/
PURGE=0
while (($#)); do
    case $1 in
        --root) ROOT=${2:?--root needs a directory}; shift ;;
        --purge) PURGE=1 ;;
        -h|--help) echo "usage: uninstall.sh [--purge] [--root DIR]"; exit 0 ;;
        *) die "unknown option: $1" ;;
    esac
    shift
done
[[ -d $ROOT ]] || die "--root $ROOT: no such directory"
ROOT=$(cd "$ROOT" && pwd)
R() { printf '%s%s' "${ROOT%/}" "$1"; }
if [[ $ROOT == / && -d /run/systemd/system ]]; then
    systemctl disable --now sigpad.service 2>/dev/null || true
fi
rm -f "$(R /etc/systemd/system/multi-user.target.wants/sigpad.service)" \
      "$(R /etc/systemd/system/sigpad.service)" \
      "$(R /etc/systemd/system/sigpad-firstboot.service)" \
      "$(R /etc/systemd/system/multi-user.target.wants/sigpad-firstboot.service)" \
      "$(R /etc/udev/rules.d/99-sigpad.rules)" \
      "$(R /usr/local/bin/sigpad)"
rm -rf "$(R /opt/sigpad)" "$(R /var/cache/sigpad)"
if [[ $ROOT == / && -d /run/systemd/system ]]; then
    systemctl daemon-reload
    udevadm control --reload 2>/dev/null || true
fi
if (( PURGE )); then
    rm -rf "$(R /etc/sigpad)" "$(R /var/lib/sigpad)" "$(R /var/lib/private/sigpad)"
    rm -f "$(R /etc/sysusers.d/sigpad.conf)"
    # The user sigpad stays (Debian never reuses a removed system user's id safely).
    echo "uninstall.sh: removed sigpad, its config, enrolled users and key"
else
    echo "uninstall.sh: removed sigpad; kept /etc/sigpad and /var/lib/sigpad (enrolled users, key): --purge removes them"
fi
