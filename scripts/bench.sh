#!/usr/bin/env bash
# Run the benchmarks: bash scripts/bench.sh [run_all.py options, e.g. --quick or --skip journal]
#
# MLflow and Weights & Biases are compared against, never needed by Kepler, so they
# live in an environment of their own (.venv-bench) that sees Kepler's .venv through
# a .pth file: Kepler's own environment stays exactly what a user installs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh test
BENCH=.venv-bench
site() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
if [[ ! -x "$BENCH/bin/python" ]]; then
  python -m venv "$BENCH"
  site "$(pwd)/.venv/bin/python" >"$(site "$BENCH/bin/python")/kepler-venv.pth"
fi
if ! "$BENCH/bin/python" -c "import mlflow, wandb, pyinstrument" >/dev/null 2>&1; then
  echo "Installing MLflow and Weights & Biases into $BENCH (for the comparison only) ..." >&2
  "$BENCH/bin/python" -m pip install --quiet --disable-pip-version-check "mlflow>=2.10" "wandb>=0.17" "pyinstrument>=4"
fi
exec "$BENCH/bin/python" benchmarks/run_all.py "$@"
