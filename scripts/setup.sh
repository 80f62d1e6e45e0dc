#!/usr/bin/env bash
# Install what is missing on a Debian 12 machine (as root, or with sudo): the system programs
# (Tesseract with Vietnamese, French and Han language data, Ghostscript, unpaper, poppler, fonts),
# ClamAV's daemon (every original file is scanned for malware at intake, where it answers) and
# the project's locked Python environment in .venv; for the tests, PostgreSQL, Chromium and
# libatomic1 (Playwright's driver needs it; a minimal Debian 12 lacks it) and mount (the fault tests
# mount small tmpfs disks; a minimal root lacks it), fonts-noto-cjk (Han test pages are set in
# it) and libmagic1 (the IIIF consortium's image validator loads it). Safe to run again: it only
# adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  tesseract-ocr tesseract-ocr-vie tesseract-ocr-fra tesseract-ocr-chi-tra tesseract-ocr-chi-tra-vert
  ghostscript unpaper pngquant qpdf poppler-utils fonts-noto-core fonts-noto-cjk curl
  python3 python3-venv python3-pip
  clamav-daemon
  postgresql chromium libatomic1 mount libmagic1
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

UV_VERSION=0.13.8
if ! python3 -m uv --version >/dev/null 2>&1; then
  python3 -m pip install -q "uv==$UV_VERSION" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "uv==$UV_VERSION"
fi
export UV_PYTHON_DOWNLOADS=never
# Bytecode compiled now, not at every start: where PYTHONDONTWRITEBYTECODE is set, Python would
# otherwise compile Prefect and the rest from source each time (about 3 s a command).
python3 -m uv sync --frozen --quiet --compile-bytecode
.venv/bin/python -m compileall -q src flows
.venv/bin/pybabel -q compile -d src/digitize/access/locale -D digitize
