#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing, then runs every test.
# Extra arguments go to `cargo test` (a test name filter, say).
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests start servers from: redis-server and nginx (the replica
# deployment tests), tmux (the console test, which types at a terminal).
missing=()
for program in redis-server nginx tmux; do
  command -v "$program" >/dev/null 2>&1 || [ -x "/usr/sbin/$program" ] || missing+=("$program")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The packages start their services on install; the tests start their own.
    for service in nginx redis-server; do service "$service" stop >/dev/null 2>&1 || true; done
  else
    echo "test.sh: the tests need the Debian packages ${missing[*]}: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

cargo test --release "$@"

# The Python package (python/), unless a test filter was given: a virtual environment in
# target/python-venv with the test tools, made when missing; the package built into it by
# maturin (cargo reuses this target folder: after `cargo test`, only pyo3 and the
# extension compile); its tests.
[ $# -eq 0 ] || exit 0
venv=target/python-venv
python=python3
command -v "$python" >/dev/null 2>&1 || {
  echo "test.sh: the Python tests need python3 (>= 3.9) with pip and venv" >&2
  exit 1
}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
if ! "$venv/bin/python" -c "import pytest, numpy, gymnasium, pandas, maturin" 2>/dev/null; then
  echo "test.sh: installing pytest, numpy, gymnasium, pandas and maturin into $venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    pytest numpy gymnasium pandas "maturin>=1.9.4,<2"
fi
VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" \
  "$venv/bin/maturin" develop --release --quiet -m python/Cargo.toml
BOTIFY_SIM="$PWD/target/release/sim" "$venv/bin/python" -m pytest -q python/tests
