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
