# Sourced by demo.sh and test.sh: make (once) and enter the project's virtual environment.
#
# A stock Debian Python is "externally managed" (pip refuses to install into it), so
# Kepler lives in .venv at the repository root. The install runs again only when
# pyproject.toml or the requested extras change, so later runs start in a second.
# KEPLER_PYTHON picks the interpreter the environment is made from (default: python3).

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-test}"
BASE_PYTHON="${KEPLER_PYTHON:-python3}"

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if [[ ! -x "$VENV/bin/python" ]]; then
  if ! "$BASE_PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
    minor=$("$BASE_PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt_install "python${minor}-venv"
  fi
  "$BASE_PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.kepler-installed"
want="$EXTRAS $(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -f "$stamp" ]] || ! grep -qxF "$want" "$stamp"; then
  echo "Installing Kepler and its dependencies into .venv (a few minutes the first time) ..." >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[$EXTRAS]"
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
  echo "$want" >"$stamp"
fi

export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
