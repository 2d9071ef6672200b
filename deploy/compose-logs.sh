#!/bin/sh
# Copies the event log of every recommender replica of the compose deployment (running or
# stopped, not yet removed by `docker compose down`) into DIR (default: served-logs), one
# file per replica, named after its container: served-<container's hostname>.jsonl. Run it
# as often as you like: each time the files are replaced by their current, longer
# versions, never nested a level deeper. Then: sim report DIR/
set -eu
dir=${1:-served-logs}
compose_file="$(cd "$(dirname "$0")/.." && pwd)/compose.yaml"
containers=$(docker compose -f "$compose_file" ps --all --quiet recommender)
if [ -z "$containers" ]; then
  echo "compose-logs.sh: no recommender container in $compose_file (docker compose up first)" >&2
  exit 1
fi
mkdir -p "$dir"
for container in $containers; do
  # `/.`: the folder's files into $dir, not the folder itself (docker cp's rule).
  docker cp "$container:/app/log/." "$dir/"
done
echo "compose-logs.sh: the logs of $(echo "$containers" | wc -l | tr -d ' ') replicas are in $dir/:"
ls -l "$dir"
