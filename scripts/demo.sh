#!/usr/bin/env bash
# Set up .venv and open JupyterLab on the demo notebooks.
#   bash scripts/demo.sh             open JupyterLab (then run demo_notebooks/01_digits.ipynb)
#   bash scripts/demo.sh --headless  execute the demos with a real kernel and print what Kepler found and recorded
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh demo
if [[ "${1:-}" == "--headless" ]]; then
  exec python scripts/demo_headless.py
fi
ROOT_FLAG=$([[ $(id -u) -eq 0 ]] && echo "--allow-root" || echo "")
exec python -m jupyter lab demo_notebooks/ --ip=127.0.0.1 --no-browser $ROOT_FLAG "$@"
