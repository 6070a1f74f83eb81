#!/usr/bin/env bash
# Tests: install, lint, then pytest (physics tests and notebooks in the smoke profile).
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install.sh
.venv/bin/ruff check zifhelpers tests benchmarks tools
exec .venv/bin/python -m pytest "$@"
