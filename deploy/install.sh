#!/usr/bin/env bash
# Install or upgrade sigpad on a Raspberry Pi (64-bit Raspberry Pi OS or
# Debian bookworm/trixie, arm64) from a bundle made by `sigpad-train bundle`.
#
#   sudo ./install.sh                     on the Pi, from the unpacked bundle
#   sudo ./install.sh --root /mnt/pi      into a mounted image or a test root
#
# Idempotent: run it again, or with a newer bundle, to repair or upgrade.
# Upgrades keep /etc/sigpad (config) and /var/lib/sigpad (templates, key).
#
# Layout: /opt/sigpad (venv; Raspberry Pi OS follows PEP 668, so never the
# system pip), /opt/sigpad/models/KIND-SHA12 (KIND: pressure, no_pressure) and
# /opt/sigpad/model/KIND, a link per kind to its active model (the edge picks
# by the pad), /etc/sigpad/sigpad.toml, /var/lib/sigpad (0700, user sigpad),
# /etc/systemd/system/sigpad.service, /etc/udev/rules.d/99-sigpad.rules,
# /usr/local/bin/sigpad (runs the CLI as user sigpad with /etc/sigpad's config).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: install.sh [options]
  --root DIR         install into DIR instead of / (a mounted image, a test root)
  --bundle DIR       the bundle (default: the directory holding this script)
  --python PY        build the venv with PY on this machine (tests: paths then
                     live under --root but the venv runs here)
  --emulator QEMU    run the root's own Python through QEMU user emulation when
                     --root holds another architecture (e.g. qemu-aarch64-static)
  --config FILE      first-install config instead of the bundle's (kept on upgrade)
  --switch-model     activate the bundle's models even when users are enrolled
                     with the current ones (they must then re-enrol)
  --online           let pip fetch wheels the bundle lacks from the package index
  --no-compile       do not byte-compile the venv (faster under emulation only)
  --no-start         install and enable, but do not (re)start the service
  --firstboot        run by sigpad-firstboot.service: remove the bundle when done
EOF
}

die() { echo "install.sh: error: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

ROOT=/
BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOST_PYTHON=""
EMULATOR=""
CONFIG_SRC=""
SWITCH_MODEL=0
ONLINE=0
COMPILE=1
START=1
FIRSTBOOT=0
while (($#)); do
    case $1 in
        --root) ROOT=${2:?--root needs a directory}; shift ;;
        --bundle) BUNDLE=${2:?--bundle needs a directory}; shift ;;
        --python) HOST_PYTHON=${2:?--python needs an interpreter}; shift ;;
        --emulator) EMULATOR=${2:?--emulator needs a program}; shift ;;
        --config) CONFIG_SRC=${2:?--config needs a file}; shift ;;
        --switch-model) SWITCH_MODEL=1 ;;
        --online) ONLINE=1 ;;
        --no-compile) COMPILE=0 ;;
        --no-start) START=0 ;;
        --firstboot) FIRSTBOOT=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done

[[ -d $ROOT ]] || die "--root $ROOT: no such directory"
ROOT=$(cd "$ROOT" && pwd)
BUNDLE=$(cd "$BUNDLE" && pwd) || die "--bundle: no such directory"
[[ -f $BUNDLE/BUNDLE.json && -d $BUNDLE/wheels ]] \
    || die "$BUNDLE is not a sigpad bundle (no BUNDLE.json or wheels/); build one with 'make bundle'"
[[ $ROOT == / ]] || START=0      # never touch this machine's services for another root
(( EUID == 0 )) || [[ -n $HOST_PYTHON ]] \
    || die "run as root (sudo): it creates a system user and installs a service"

R() { printf '%s%s' "${ROOT%/}" "$1"; }   # a target path, as seen from here

PREFIX=/opt/sigpad
ETC=/etc/sigpad
STATE=/var/lib/sigpad

# --- the bundle is intact ----------------------------------------------------
(cd "$BUNDLE" && sha256sum --quiet --strict -c SHA256SUMS) \
    || die "$BUNDLE: files do not match SHA256SUMS (a partial copy?): copy the bundle again"

# --- the target's architecture and Python -----------------------------------
elf_arch() {    # ELF class and machine of a binary: aarch64, armhf, x86_64, ...
    local cls mach
    cls=$(od -An -tu1 -j4 -N1 "$1" | tr -d ' ')
    mach=$(od -An -tu2 -j18 -N2 --endian=little "$1" | tr -d ' ')
    case $cls:$mach in
        2:183) echo aarch64 ;; 1:40) echo armhf ;; 2:62) echo x86_64 ;;
        1:3) echo i386 ;; *) echo "unknown(class $cls, machine $mach)" ;;
    esac
}

root_realpath() {   # resolve symlinks inside ROOT (absolute links stay inside it)
    local p=$1 n=0 t
    while [[ -L $(R "$p") ]]; do
        t=$(readlink "$(R "$p")")
        [[ $t == /* ]] && p=$t || p=$(dirname "$p")/$t
        (( ++n < 40 )) || die "$p: too many symbolic links"
    done
    printf '%s' "$p"
}

if [[ -n $HOST_PYTHON ]]; then
    MODE=host
    PYBIN=$(command -v "$HOST_PYTHON") || die "--python $HOST_PYTHON: not found"
    PYBIN=$(readlink -f "$PYBIN")
else
    [[ $ROOT == / ]] && MODE=native || MODE=chroot
    [[ -e $(R /usr/bin/python3) ]] \
        || die "$(R /usr/bin/python3): no Python 3 in the target (install python3 first)"
    PYBIN=$(R "$(root_realpath /usr/bin/python3)")
fi
ARCH=$(elf_arch "$PYBIN")
case $ARCH in
    aarch64|x86_64) ;;
    armhf) die "32-bit Raspberry Pi OS (armhf) is not supported: ai-edge-litert has no 32-bit ARM wheel. Flash Raspberry Pi OS (64-bit) instead; a Pi 3, 4, 5 or Zero 2 W runs it." ;;
    *) die "unsupported architecture $ARCH of $PYBIN: sigpad needs arm64 (aarch64)" ;;
esac

EMU_IN_ROOT=""
cleanup() {
    [[ -n $EMU_IN_ROOT ]] && rm -f "$(R "$EMU_IN_ROOT")"
    [[ $MODE == chroot ]] && rm -rf "$(R /var/cache/sigpad/stage)"
    return 0
}
trap cleanup EXIT

if [[ $MODE == chroot ]]; then
    # No binfmt_misc is needed: a static QEMU is copied into the root and
    # chroot runs it with the root's own (foreign) Python.
    if [[ $ARCH != "$(uname -m)" ]]; then
        [[ -n $EMULATOR ]] || die "$ROOT holds $ARCH binaries and this machine is $(uname -m): pass --emulator qemu-${ARCH}-static"
        EMU=$(command -v "$EMULATOR") || die "--emulator $EMULATOR: not found (apt-get install qemu-user-static)"
        EMU_IN_ROOT=/usr/libexec/sigpad-install-qemu
        mkdir -p "$(R /usr/libexec)"
        cp "$EMU" "$(R "$EMU_IN_ROOT")"
    fi
    tpy() {  # the target's Python inside the root, with a clean environment
        # QEMU_CPU passes through: cortex-a72 emulates a Pi 4 (QEMU's default
        # "max" CPU makes numpy's OpenBLAS pick SME kernels a Pi never runs).
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
            ${QEMU_CPU:+QEMU_CPU=$QEMU_CPU} chroot "$ROOT" $EMU_IN_ROOT "$@"
    }
    # The bundle as the target sees it: staged inside the root for the install.
    mkdir -p "$(R /var/cache/sigpad)"
    rm -rf "$(R /var/cache/sigpad/stage)"
    cp -r "$BUNDLE" "$(R /var/cache/sigpad/stage)"
    TBUNDLE=/var/cache/sigpad/stage
    T() { printf '%s' "$1"; }             # a target path, as its Python sees it
    SYS_PY=/usr/bin/python3
elif [[ $MODE == native ]]; then
    tpy() { "$@"; }
    TBUNDLE=$BUNDLE
    T() { printf '%s' "$1"; }
    SYS_PY=/usr/bin/python3
else
    tpy() { "$@"; }
    TBUNDLE=$BUNDLE
    T() { R "$1"; }
    SYS_PY=$PYBIN
fi

PYVER=$(tpy "$SYS_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
    || die "cannot run the target's Python ($SYS_PY, $ARCH)${EMU_IN_ROOT:+ under $EMULATOR}"
case $PYVER in
    3.1[1-9]) ;;
    *) die "Python $PYVER in the target: sigpad needs 3.11 or newer (Debian bookworm or later)" ;;
esac
TAG=cp${PYVER/./}
if (( ! ONLINE )) && ! ls "$BUNDLE"/wheels/*-"$TAG"-*.whl >/dev/null 2>&1 \
        && [[ $ARCH == aarch64 ]]; then
    have=$(for w in "$BUNDLE"/wheels/*-cp3*-*.whl; do w=${w##*/}; w=${w#*-*-}; echo "${w%%-*}"; done | sort -u | tr '\n' ' ')
    die "the bundle has no wheels for Python $PYVER ($TAG); it has: ${have:-none}- rebuild it with --python-versions including $PYVER, or pass --online"
fi
say "target $ROOT: $ARCH, Python $PYVER ($MODE)"

# --- system user -------------------------------------------------------------
install -D -m 0644 "$BUNDLE/sigpad.sysusers" "$(R /etc/sysusers.d/sigpad.conf)"
if command -v systemd-sysusers >/dev/null; then
    # The file is named as seen from here: with --root, sysusers does not prefix it.
    systemd-sysusers --root="$ROOT" "$(R /etc/sysusers.d/sigpad.conf)"
elif ! grep -q '^sigpad:' "$(R /etc/passwd)" 2>/dev/null; then
    useradd --root "$ROOT" --system --home-dir "$STATE" --no-create-home \
        --shell /usr/sbin/nologin --user-group --groups dialout sigpad
fi
# Numeric ids from the target's own files: the host's may differ.
SIGPAD_UID=$(awk -F: '$1=="sigpad"{print $3}' "$(R /etc/passwd)" 2>/dev/null || true)
SIGPAD_GID=$(awk -F: '$1=="sigpad"{print $4}' "$(R /etc/passwd)" 2>/dev/null || true)
[[ -n $SIGPAD_UID && -n $SIGPAD_GID ]] || die "user sigpad was not created in $(R /etc/passwd)"

# --- directories and the store key ---------------------------------------------
install -d -m 0755 "$(R $PREFIX)" "$(R $PREFIX)/models" "$(R $PREFIX)/share"
install -d -m 0750 -g "$SIGPAD_GID" "$(R $ETC)"
install -d -m 0700 -o "$SIGPAD_UID" -g "$SIGPAD_GID" "$(R $STATE)"
KEY=$(R $STATE/store.key)
if [[ ! -e $KEY ]]; then
    # Made here, not on first use, so a backup taken right after install has
    # it. umask first: the key is never readable by anyone else, not even briefly.
    (umask 077 && head -c 32 /dev/urandom > "$KEY.tmp" && mv "$KEY.tmp" "$KEY")
    say "created the store key $STATE/store.key (0600)"
fi
chown "$SIGPAD_UID:$SIGPAD_GID" "$KEY"
chmod 0600 "$KEY"

# --- the venv --------------------------------------------------------------------
VENV=$(T $PREFIX)
if [[ -x $(R $PREFIX)/bin/python ]] \
        && ! tpy "$VENV/bin/python" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$PYVER'.split('.'))))" 2>/dev/null; then
    say "the venv's Python differs from the system's $PYVER (an OS upgrade?): rebuilding it"
    VDIR=$(R $PREFIX)
    rm -rf "${VDIR:?}/bin" "${VDIR:?}/lib" "${VDIR:?}/lib64" \
        "${VDIR:?}/include" "${VDIR:?}/pyvenv.cfg" "${VDIR:?}/share/sigpad-wheel.sha256"
fi
if [[ ! -x $(R $PREFIX)/bin/python ]]; then
    # --without-pip: ensurepip runs pip in a subprocess, which needs python3-venv
    # and (under emulation) binfmt_misc; pip comes from the bundle instead.
    tpy "$SYS_PY" -m venv --without-pip "$VENV"
    rm -f "$(R $PREFIX)/share/sigpad-wheel.sha256"
fi
PIP=(tpy "$VENV/bin/python")
PIP_OPTS=(--disable-pip-version-check --no-input --find-links "$TBUNDLE/wheels")
(( ONLINE )) || PIP_OPTS+=(--no-index)
(( COMPILE )) || PIP_OPTS+=(--no-compile)
if ! compgen -G "$(R $PREFIX)/lib/python3*/site-packages/pip/__init__.py" >/dev/null; then
    PIPWHL=$(cd "$BUNDLE/wheels" && ls pip-*.whl 2>/dev/null | sort -V | tail -1)
    [[ -n $PIPWHL ]] || die "the bundle has no pip wheel (wheels/pip-*.whl): rebuild it"
    "${PIP[@]}" "$TBUNDLE/wheels/$PIPWHL/pip" install -q "${PIP_OPTS[@]}" pip
fi
SIGPAD_WHL=$(cd "$BUNDLE/wheels" && ls sigpad-*.whl | sort -V | tail -1)
# The wheel's hash is recorded: a rerun with the same bundle skips pip (a
# minute under emulation), and a rebuilt wheel of the same version number,
# which pip would keep as "already satisfied", is reinstalled.
WHL_SHA=$(sha256sum "$BUNDLE/wheels/$SIGPAD_WHL" | cut -d' ' -f1)
STAMP=$(R $PREFIX)/share/sigpad-wheel.sha256
if [[ $(cat "$STAMP" 2>/dev/null) != "$WHL_SHA $PYVER" ]]; then
    say "installing $SIGPAD_WHL and its dependencies into $PREFIX"
    "${PIP[@]}" -m pip install -q "${PIP_OPTS[@]}" --upgrade "$TBUNDLE/wheels/${SIGPAD_WHL}[edge]"
    "${PIP[@]}" -m pip install -q "${PIP_OPTS[@]}" --no-deps --force-reinstall "$TBUNDLE/wheels/$SIGPAD_WHL"
    echo "$WHL_SHA $PYVER" > "$STAMP"
else
    say "$SIGPAD_WHL is installed already"
fi

# --- models: install side by side, then decide which ones are active ----------
# One model per pad kind: the bundle's models/pressure and models/no_pressure.
# /opt/sigpad/model is a directory of one link per kind (pressure,
# no_pressure), which the edge picks from by the pad (config: [model] path).
ls -d "$BUNDLE"/models/*/ >/dev/null 2>&1 || die "$BUNDLE/models: no model in the bundle"
NEW_MODELS=()
for m in "$BUNDLE"/models/*/; do
    name=$(basename "$m")
    sha=$(sed -n 's/.*"sha256": *"\([0-9a-f]\{64\}\)".*/\1/p' "$m/manifest.json" | head -1)
    [[ -n $sha ]] || die "$m/manifest.json: no sha256"
    dest=$(R $PREFIX/models/$name-${sha:0:12})
    if [[ ! -d $dest ]]; then
        cp -r "$m" "$dest.tmp" && chmod -R a+rX,go-w "$dest.tmp" && mv "$dest.tmp" "$dest"
    fi
    NEW_MODELS+=(--new "$name-${sha:0:12}")
done
install -m 0644 "$BUNDLE/model_state.py" "$(R $PREFIX)/share/model_state.py"
install -m 0755 "$BUNDLE/uninstall.sh" "$(R $PREFIX)/share/uninstall.sh"
install -m 0644 "$BUNDLE/BUNDLE.json" "$(R $PREFIX)/share/BUNDLE.json"
[[ -f $BUNDLE/deploy.md ]] && install -m 0644 "$BUNDLE/deploy.md" "$(R $PREFIX)/share/deploy.md"
MS_ARGS=(--models "$(T $PREFIX/models)" --active "$(T $PREFIX/model)"
         --db "$(T $STATE/templates.db)" "${NEW_MODELS[@]}")
(( SWITCH_MODEL )) && MS_ARGS+=(--switch)
# It decides (reading an old single-model link too) and prints; the links are changed here.
DECISION=$(tpy "$VENV/bin/python" "$(T $PREFIX/share/model_state.py)" "${MS_ARGS[@]}") \
    || die "model check failed (see above)"
ACTIVE_DIR=$(R $PREFIX)/model
# An install from before both kinds: /opt/sigpad/model is one link, now a directory.
[[ -L $ACTIVE_DIR ]] && rm -f "$ACTIVE_DIR"
install -d -m 0755 "$ACTIVE_DIR"
ACTIVE=""
while IFS= read -r line; do
    if [[ $line =~ ^(pressure|no_pressure)=([A-Za-z0-9._-]+)$ ]]; then
        kind=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]}
        # rename(2) over the old link: the service never sees a kind without a model.
        ln -sfn "../models/$name" "$ACTIVE_DIR/$kind.new" && mv -T "$ACTIVE_DIR/$kind.new" "$ACTIVE_DIR/$kind"
        ACTIVE+="${ACTIVE:+, }$name"
    elif [[ -n $line ]]; then
        say "$line"
    fi
done <<< "$DECISION"

# --- config, unit, udev rule, wrapper ---------------------------------------------
if (( FIRSTBOOT )) && [[ -z $CONFIG_SRC ]]; then
    # A config edited on the FAT boot partition (from any PC) before first boot.
    for f in /boot/firmware/sigpad/sigpad.toml /boot/sigpad/sigpad.toml; do
        [[ -f $(R "$f") ]] && CONFIG_SRC=$(R "$f") && break
    done
fi
CONF=$(R $ETC/sigpad.toml)
NEWCONF=${CONFIG_SRC:-$BUNDLE/sigpad.toml}
if [[ ! -e $CONF ]]; then
    install -m 0640 -g "$SIGPAD_GID" "$NEWCONF" "$CONF"
    say "wrote $ETC/sigpad.toml"
elif ! cmp -s "$BUNDLE/sigpad.toml" "$CONF"; then
    # Like dpkg: the admin's file stays; the new default lies beside it.
    install -m 0640 -g "$SIGPAD_GID" "$BUNDLE/sigpad.toml" "$CONF.dist"
    say "kept your $ETC/sigpad.toml; this version's default is in $ETC/sigpad.toml.dist"
fi
install -D -m 0644 "$BUNDLE/sigpad.service" "$(R /etc/systemd/system/sigpad.service)"
install -D -m 0644 "$BUNDLE/99-sigpad.rules" "$(R /etc/udev/rules.d/99-sigpad.rules)"
install -D -m 0755 "$BUNDLE/sigpad-wrapper.sh" "$(R /usr/local/bin/sigpad)"

WANTS=$(R /etc/systemd/system/multi-user.target.wants)
if [[ $MODE != native ]] || [[ ! -d /run/systemd/system ]]; then
    # Offline enable: the same symlink `systemctl enable` makes.
    mkdir -p "$WANTS"
    ln -sfn /etc/systemd/system/sigpad.service "$WANTS/sigpad.service"
else
    systemctl daemon-reload
    systemctl enable sigpad.service
    udevadm control --reload || true
    udevadm trigger --subsystem-match=tty --action=add || true
fi

VERSION=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$BUNDLE/BUNDLE.json" | head -1)
if (( START )); then
    # --no-block at first boot: waiting for a job from inside a boot-time unit can deadlock.
    NOBLOCK=()
    (( FIRSTBOOT )) && NOBLOCK=(--no-block)
    systemctl "${NOBLOCK[@]}" restart sigpad.service \
        || say "sigpad.service did not start (is a pad plugged in?): see journalctl -u sigpad"
fi
if (( FIRSTBOOT )); then
    rm -f "$(R /etc/systemd/system/multi-user.target.wants/sigpad-firstboot.service)"
    rm -rf "$BUNDLE"
fi
say "sigpad $VERSION installed in $PREFIX (models $ACTIVE); logs: journalctl -u sigpad"
