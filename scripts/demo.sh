#!/usr/bin/env bash
# Install Kepler and open JupyterLab on the demo notebooks.
#   bash scripts/demo.sh             open JupyterLab (then run demo_notebooks/01_digits.ipynb)
#   bash scripts/demo.sh --headless  execute the demos with a real kernel and print where they were recorded
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet -e ".[demo]"
python3 -m ipykernel install --sys-prefix --name python3 >/dev/null
if [[ "${1:-}" == "--headless" ]]; then
  exec python3 scripts/demo_headless.py
fi
exec python3 -m jupyter lab demo_notebooks/ --ip=127.0.0.1 --no-browser "$@"
