#!/usr/bin/env bash
# Main job: install, then execute every notebook with papermill.
#   bash run.sh                    # profile quick (a laptop), figures into figures/
#   bash run.sh --profile paper    # the paper's protocol (GPU)
#   bash run.sh 00 03 --profile smoke
# Executed notebooks and results.json go to runs/<profile>/.
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install.sh
args=("$@")
case " $* " in *" --profile "*) ;; *) args+=(--profile quick) ;; esac
case " $* " in *" --figures-dir "*) ;; *) args+=(--figures-dir figures) ;; esac
exec .venv/bin/python -m zifhelpers run "${args[@]}"
