#!/usr/bin/env bash
# Tests: install, lint, then pytest (physics tests and notebooks in the smoke profile).
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install.sh
.venv/bin/ruff check zifhelpers tests benchmarks tools
# two workers, one thread each (tests/conftest.py); PYTEST_WORKERS=0 runs them in this process
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadgroup "$@"
