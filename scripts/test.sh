#!/usr/bin/env bash
# Install everything the tests need (Python packages, Debian's Chromium) and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=$([[ $(id -u) -eq 0 ]] && echo "" || echo "sudo")
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
python3 -m pip install --quiet -e ".[test]"
python3 -m ipykernel install --sys-prefix --name python3 >/dev/null
exec python3 -m pytest "$@"
