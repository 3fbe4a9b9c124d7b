#!/usr/bin/env bash
# One-time set-up of a fresh machine: system packages, the Python package with its
# test extras, and the recognition weights (verified against models/SHA256SUMS).
# Safe to run again: every step skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: fonts for the synthetic corpus, Unihan data for the code table.
DEB_PKGS=(fonts-arphic-uming fonts-arphic-ukai fonts-noto-cjk fonts-ocr-b fonts-dejavu-core
          fonts-liberation unicode-data)
missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    # Only the synthetic corpus needs these: a failure here is a warning, not a stop
    # (its tests then skip and say why).
    { $SUDO apt-get update -qq || true; } >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >/dev/null 2>&1 || echo "setup: warning: could not install ${missing[*]}" >&2
  else
    echo "setup: apt-get not found; install these yourself for the benchmark corpus: ${missing[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 | grep -v "as the 'root' user" || true
"$PY" -c "import hkid_ocr" 2>/dev/null || { echo "setup: pip install failed" >&2; exit 1; }
"$PY" -m hkid_ocr.models fetch
