#!/bin/bash
# The README's test command on a fresh machine: a Debian 12 minimal root made with debootstrap, a
# clean clone of this repository's HEAD in it, then `bash scripts/setup.sh && .venv/bin/python -m
# pytest -q` in a chroot, timed. Run as root on a Debian or Ubuntu host with debootstrap and git.
#
#   bash scripts/fresh-debian-check.sh [ROOT]     (default ROOT: /var/tmp/digitize-bookworm; made anew)
#
# The output goes to the terminal and to ROOT.log. A host whose network needs its own CA certificates
# (a TLS-inspecting proxy) has them in /usr/local/share/ca-certificates: they are copied into the root.
set -euo pipefail

ROOT=${1:-/var/tmp/digitize-bookworm}
REPO=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
LOG="$ROOT.log"

if [ "$(id -u)" != 0 ]; then
    echo "run as root (debootstrap and chroot need it)" >&2
    exit 1
fi
for tool in debootstrap git mount chroot; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 1; }
done
if [ -e "$ROOT" ]; then
    echo "$ROOT exists: give a new folder (nothing is deleted here)" >&2
    exit 1
fi

exec > >(tee "$LOG") 2>&1
started=$(date +%s)
echo "== debootstrap --variant=minbase bookworm $ROOT"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >/dev/null

extra_ca=$(ls /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)
if [ -n "$extra_ca" ]; then
    mkdir -p "$ROOT/usr/local/share/ca-certificates" "$ROOT/etc/uv"
    cp $extra_ca "$ROOT/usr/local/share/ca-certificates/"
    printf 'native-tls = true\n' > "$ROOT/etc/uv/uv.toml"  # uv then trusts the system's certificates
    chroot "$ROOT" /bin/sh -c 'cat /usr/local/share/ca-certificates/*.crt >> /etc/ssl/certs/ca-certificates.crt' \
        2>/dev/null || true
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
git clone --quiet "$REPO" "$ROOT/root/digitize"

mounted=()
cleanup() {
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" || umount -l "${mounted[$i]}"; done
}
trap cleanup EXIT
for fs in proc sys dev dev/pts; do
    mount --bind "/$fs" "$ROOT/$fs"
    mounted+=("$ROOT/$fs")
done

echo "== in the chroot: bash scripts/setup.sh && .venv/bin/python -m pytest -q"
set +e
env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb \
    ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
    ${HTTP_PROXY:+HTTP_PROXY=$HTTP_PROXY} ${HTTPS_PROXY:+HTTPS_PROXY=$HTTPS_PROXY} \
    ${no_proxy:+no_proxy=$no_proxy} ${NO_PROXY:+NO_PROXY=$NO_PROXY} \
    chroot "$ROOT" /bin/bash -c 'cd /root/digitize && bash scripts/setup.sh && python3 --version && .venv/bin/python -m pytest -q'
status=$?
set -e
echo "== exit status $status; $(( ($(date +%s) - started) / 60 )) min in all (debootstrap, setup, tests)"
exit $status
