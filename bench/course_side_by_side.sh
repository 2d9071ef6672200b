#!/usr/bin/env bash
# Side by side on one world: the course's Python simulator (in process with its `dummy`
# agent, and against `sim serve` over the botify protocol) and `sim run` (cold and warm
# cache), all with a uniformly random recommender. Prints a Markdown table on stdout.
#
#   bench/course_side_by_side.sh COURSE_SIM_DIR
#
# COURSE_SIM_DIR: the `sim` folder of a checkout of the course repository (the folder
# holding `sim/run.py` and `requirements.txt`), or the checkout itself. Nothing is
# downloaded. Environment (all optional):
#   PYTHON    interpreter with the course's packages   (default: python3)
#   SIM       the sim binary                            (default: target/release/sim)
#   EPISODES  episodes of every run                     (default: 2000)
#   REPEATS   runs of each kind; the best is shown      (default: 3)
#   BIG_EPISODES  episodes of the extra `sim run` rows  (default: 300000; 0 leaves them out)
# Every process runs under `nice -n 19`.
set -euo pipefail

die() { echo "course_side_by_side: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 COURSE_SIM_DIR (the 'sim' folder of the course repository)"
course=$1
[[ -d $course ]] || die "$course is not a folder"
course=$(cd "$course" && pwd)
if [[ ! -f $course/sim/run.py && -f $course/sim/sim/run.py ]]; then
    course=$course/sim
fi
for file in sim/run.py sim/envs/env.py sim/envs/user.py sim/envs/track.py sim/agents/dummy.py sim/agents/remote.py; do
    [[ -f $course/$file ]] || die "$course/$file is missing: is $course the course simulator's 'sim' folder?"
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
sim=${SIM:-$root/target/release/sim}
episodes=${EPISODES:-2000}
repeats=${REPEATS:-3}
big_episodes=${BIG_EPISODES:-300000}
command -v "$python" > /dev/null || die "no Python interpreter '$python' (set PYTHON)"
[[ -x $sim ]] || die "no sim binary at $sim (run 'cargo build --release' or set SIM)"
[[ $episodes =~ ^[1-9][0-9]*$ ]] || die "EPISODES must be a positive integer, not '$episodes'"
[[ $repeats =~ ^[1-9][0-9]*$ ]] || die "REPEATS must be a positive integer, not '$repeats'"
[[ $big_episodes =~ ^[0-9]+$ ]] || die "BIG_EPISODES must be a non-negative integer, not '$big_episodes'"

# What sim/run.py imports (tabulate: pandas' to_markdown of its summary).
missing=$("$python" - <<'EOF'
import importlib.util
modules = ["faiss", "gym", "marshmallow_dataclass", "numpy", "pandas", "scipy", "tqdm", "yaml", "requests", "tabulate"]
print(" ".join(m for m in modules if importlib.util.find_spec(m) is None))
EOF
) || die "$python does not run"
[[ -z $missing ]] || die "$python lacks the Python package(s) of the course simulator: $missing (pip install them, see docs/PERFORMANCE.md)"

work=$(mktemp -d)
server=
cleanup() {
    if [[ -n $server ]]; then
        kill "$server" 2> /dev/null || true
        wait "$server" 2> /dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

load() { cut -d, -f1 /proc/loadavg | cut -d' ' -f1; }
now() { date +%s.%N; }

# The same world for both: the default world in the course format.
nice -n 19 "$sim" --quiet world export "$work/world" > /dev/null || die "sim world export failed"
cat > "$work/world.yml" << EOF
world:
  source: course
  dir: world
EOF
cat > "$work/random.yml" << EOF
# The course's dummy agent: a track drawn uniformly from the catalogue.
name: random
control: C
arms:
  C: {kind: random}
EOF
# The course simulator's config, its keys as in its config/env.yml, pointed at the export.
course_config() {
    cat << EOF
track_catalog_config:
  track_meta_path: $work/world/tracks.json
  track_embeddings_path: $work/world/tracks.npy
user_catalog_config:
  user_catalog_path: $work/world/users.json
remote_recommender_config:
  host: 127.0.0.1
  port: $1
EOF
}

rows=()
# row LABEL COMMAND EPISODES STEPS WALL SIM_SECONDS LOAD
row() {
    rows+=("$(awk -v label="$1" -v cmd="$2" -v eps="$3" -v steps="$4" -v wall="$5" -v simsec="$6" -v load="$7" 'BEGIN {
        printf "| %s | `%s` | %d | %d | %.2f s | %.0f | %.2f s | %.0f | %s |", label, cmd, eps, steps, wall, steps / wall, simsec, steps / simsec, load }')")
}

# One run of the course simulator: prints "STEPS WALL LOOP_SECONDS LOAD". Steps are the
# mean steps per episode of its summary times the episodes; the loop time is the
# episodes over tqdm's final rate (its own "Time:" line has whole seconds only). On a
# failure, writes why to $work/failure and returns 1.
course_run() { # AGENT CONFIG [VAR=VALUE...]
    local before start end out=$work/course.out err=$work/course.err mean rate
    fail() { echo "$*" > "$work/failure"; return 1; }
    before=$(load)
    start=$(now)
    (cd "$course" && printf 'n\n' | env PYTHONPATH="$course" "${@:3}" nice -n 19 "$python" -m sim.run \
        --config "$2" --episodes "$episodes" single --recommender "$1" --seed 42 > "$out" 2> "$err") ||
        { fail "the course simulator exited with an error: $(tr '\r' '\n' < "$err" | grep . | tail -n 1)"; return 1; }
    end=$(now)
    mean=$(awk -F'|' '$2 ~ /^ *1 *$/ { print $5 }' "$out")
    rate=$(tr '\r' '\n' < "$err" | grep -o '[0-9.]*it/s' | tail -n 1 | sed 's#it/s##')
    [[ -n $mean ]] || { fail "no summary row in the course simulator's output"; return 1; }
    [[ -n $rate ]] || { fail "no tqdm rate (it/s) in the course simulator's stderr"; return 1; }
    awk -v m="$mean" -v n="$episodes" -v s="$start" -v e="$end" -v r="$rate" -v l="$before" \
        'BEGIN { printf "%d %.3f %.3f %s\n", m * n + 0.5, e - s, n / r, l }'
}

# Runs the course simulator REPEATS times and adds a row for the fastest (by wall time),
# or a row saying why a run failed (and the script's exit status becomes 1); adds the
# steps of every run to course_steps.
course_steps=0
failed=0
best_course_run() { # AGENT CONFIG LABEL COMMAND [VAR=VALUE...]
    local best='' line
    for ((i = 1; i <= repeats; i++)); do
        if ! line=$(course_run "$1" "$2" "${@:5}"); then
            echo "  $3, run $i failed: $(cat "$work/failure")" >&2
            rows+=("| $3 | \`$4\` | failed: $(cat "$work/failure") | | | | | | |")
            failed=1
            return 1
        fi
        echo "  $3, run $i: steps, wall s, loop s, load = $line" >&2
        course_steps=$((course_steps + ${line%% *}))
        if [[ -z $best ]] || awk -v a="$line" -v b="$best" 'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[2] < y[2]) }'; then
            best=$line
        fi
    done
    read -r steps wall loop before <<< "$best"
    row "$3" "$4" "$episodes" "$steps" "$wall" "$loop" "$before"
}

echo "course simulator, in process, dummy agent ($episodes episodes x $repeats)" >&2
course_config 0 > "$work/course-dummy.yml"
best_course_run dummy "$work/course-dummy.yml" "course simulator, in process, \`dummy\` agent" \
    "python -m sim.run --episodes $episodes single --recommender dummy" || true
# faiss searches on an OpenMP team of one thread per core by default; on a busy machine
# its one-query search per session ran 2.6 times faster on one thread.
best_course_run dummy "$work/course-dummy.yml" "the same, faiss on one thread" \
    "OMP_NUM_THREADS=1 python -m sim.run --episodes $episodes single --recommender dummy" OMP_NUM_THREADS=1 || true

echo "course simulator against sim serve ($episodes episodes x $repeats)" >&2
: > "$work/serve.out"
(cd "$work" && exec nice -n 19 "$sim" serve --config world.yml --experiment random.yml --port 0 \
    --log "$work/served.jsonl" --cache-dir "$work/serve-cache" > "$work/serve.out" 2> "$work/serve.err") &
server=$!
port=
for ((i = 0; i < 600; i++)); do
    port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$work/serve.out")
    [[ -n $port ]] && break
    kill -0 "$server" 2> /dev/null || die "sim serve stopped: $(tail -n 1 "$work/serve.err")"
    sleep 0.1
done
[[ -n $port ]] || die "sim serve printed no port within 60 s"
# Ready once it answers GET / (the listener is bound before the world is loaded).
"$python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/', timeout=120).read()" ||
    die "sim serve on port $port does not answer GET /"
course_config "$port" > "$work/course-remote.yml"
course_steps=0
remote_ok=1
best_course_run remote "$work/course-remote.yml" "course simulator against \`sim serve\` (botify protocol)" \
    "python -m sim.run --episodes $episodes single --recommender remote" || remote_ok=0
kill "$server" 2> /dev/null || true
wait "$server" 2> /dev/null || true
server=
# Its steps, counted from its summaries, are the recommendations the server logged.
served_steps=$(grep -c '"message":"next"' "$work/served.jsonl" || true)
if [[ $remote_ok == 1 && $served_steps -ne $course_steps ]]; then
    die "sim serve logged $served_steps steps, the course simulator's summaries say $course_steps"
fi

echo "sim run, cold and warm cache" >&2
sim_rows() { # EPISODES
    local json before
    before=$(load)
    json=$(cd "$work" && nice -n 19 "$sim" --quiet bench --end-to-end --json --config world.yml \
        --experiment random.yml --episodes "$1" --repeats "$repeats") || die "sim bench --end-to-end failed"
    while read -r cache eps steps wall simsec; do
        local label="\`sim run\`, $cache cache"
        [[ $cache == warm ]] && label="$label, best of $repeats"
        row "$label" "sim run --experiment random.yml --episodes $eps" "$eps" "$steps" "$wall" "$simsec" "$before"
    done < <("$python" -c '
import json, sys
runs = json.load(sys.stdin)["end_to_end"]
cold = [r for r in runs if r["cache"] == "cold"]
warm = min((r for r in runs if r["cache"] == "warm"), key=lambda r: r["seconds"])
for r in cold + [warm]:
    print(r["cache"], r["episodes"], r["steps"], r["seconds"], r["simulation_seconds"])
' <<< "$json")
}
sim_rows "$episodes"
if [[ $big_episodes -gt 0 ]]; then
    sim_rows "$big_episodes"
fi

echo "| run | command | episodes | steps | wall (process start to exit) | steps/s end to end | simulation loop | steps/s in the loop | load average before |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
echo
echo "Same world (\`sim world export\` of the default world), uniformly random recommender everywhere; $(nproc) cores; $("$python" --version 2>&1)."
if [[ $remote_ok == 1 ]]; then
    echo "The course simulator's remote runs made $served_steps steps by their summaries, as many as sim serve logged."
fi
[[ $failed == 0 ]] || die "a run of the course simulator failed (its row says why)"
