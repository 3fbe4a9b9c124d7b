#!/usr/bin/env bash
# Set up (idempotent), then read the bundled 2003 specimen and print its JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec "${PYTHON:-python3}" -m hkid_ocr recognize tests/data/specimen_2003.jpg --pretty
