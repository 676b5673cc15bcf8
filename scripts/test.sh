#!/usr/bin/env bash
# Set up .venv (Debian's Chromium included) and run the tests; arguments go to pytest.
#   bash scripts/test.sh                      every test (about 20 minutes on 2 cores, plus about 4 for the first set-up)
#   bash scripts/test.sh -m "not browser"     skip the JupyterLab browser tests
#   bash scripts/test.sh tests/test_query.py  one module
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=$([[ $(id -u) -eq 0 ]] && echo "" || echo "sudo")
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
source scripts/env.sh test
exec python -m pytest "$@"
