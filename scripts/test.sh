#!/usr/bin/env bash
# Set up (idempotent), then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=${PYTHON:-python3}
# The Ray engine's tests run a local Ray instance: install the optional extra for them
# (if the package index cannot serve it, those tests skip and say why).
if ! log=$("$PY" -m pip install -q --disable-pip-version-check -e ".[test,ray]" 2>&1); then
  echo "$log" | tail -3 >&2
  echo "test: warning: could not install the [ray] extra; the Ray tests will skip" >&2
fi
exec "$PY" -m pytest -q "$@"
