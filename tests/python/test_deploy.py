"""The deployment files, checked with the tools operators use: the Helm chart rendered and
linted by the Helm engine, every object validated against Kubernetes' or the CRD's schema,
the plain manifests built by kustomize, the alert rules checked and unit-tested by promtool,
and the dashboard's queries checked to read only metrics espy exports.

Run: `pytest tests/python/test_deploy.py` with promtool and kubectl on PATH (or
PROMTOOL_BIN / KUBECTL_BIN) and the packages of tests/services/install.sh installed.
"""

import copy
import hashlib
import json
import re
import subprocess
import tomllib
from pathlib import Path

import helm_python
import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda
from cloudcoil.models.prometheus_operator import v1 as monitoring

from conftest import REPO

CHART = REPO / "helm" / "espy"
RULES = CHART / "rules" / "espy-alerts.yaml"
RULES_COPY = REPO / "deploy" / "prometheus" / "espy-alerts.yaml"
RULES_TESTS = REPO / "tests" / "prometheus" / "espy-alerts.test.yaml"
DASHBOARD = CHART / "dashboards" / "espy.json"
KUSTOMIZE = REPO / "k8s"
KEYS_FILE = Path(__file__).with_name("espy_config_keys.txt")
EXAMPLE_CONFIG = REPO / "config" / "espy.toml"
KUBE_VERSION = "1.30.0"

# Values sets an operator would plausibly install with; every test that renders runs on
# each of them.
VALUE_SETS = {
    "defaults": {},
    "s3-with-secrets": {
        "config": {
            "kafka": {
                "brokers": "kafka-0.kafka:9093,kafka-1.kafka:9093",
                "options": {
                    "security.protocol": "SASL_SSL",
                    "sasl.mechanism": "SCRAM-SHA-512",
                    "sasl.username": "espy",
                },
            },
            "output": {
                "root": "s3://zeek/espy",
                "create_only": False,
                "s3": {"endpoint": "http://garage.storage:3900", "region": "garage"},
            },
        },
        "secrets": {
            "kafkaSaslPassword": {"existingSecret": "espy-kafka", "key": "sasl-password"},
            "s3Credentials": {"existingSecret": "espy-s3"},
        },
    },
    "keda": {
        "autoscaling": {"enabled": False},
        "keda": {
            "enabled": True,
            "maxReplicaCount": 12,
            "lagThreshold": 2000000,
            "triggerAuthenticationName": "espy-kafka",
        },
        "config": {"kafka": {"topics": ["winlogbeat", "nxlog"], "group_id": "espy-prod"}},
    },
    "monitoring": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "grafanaDashboard": {"enabled": True},
    },
    "folder-pvc": {
        "autoscaling": {"enabled": False},
        "replicaCount": 3,
        "sharedFolder": {"existingClaim": "zeek-logs", "mountPath": "/mnt/zeek"},
        "config": {
            "output": {"root": "/mnt/zeek/espy"},
            "records": {
                "local_networks": ["10.0.0.0/8", "192.168.0.0/16"],
                "full_hostname": True,
                "networks": [{"name": "hq", "hosts": ["*.hq.example.com"], "agents": []}],
            },
            "shutdown": {"grace_secs": 50},
        },
    },
}

CRD_MODELS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): monitoring.ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): monitoring.PrometheusRule,
    ("keda.sh/v1alpha1", "ScaledObject"): keda.ScaledObject,
}


def render(values: dict) -> list[dict]:
    """Every object the chart renders with `values`, in template order."""
    manifests = helm_python.Chart.load(str(CHART)).render(
        copy.deepcopy(values), name="espy", namespace="hunting"
    )
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def one(objects: list[dict], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def kinds(objects: list[dict]) -> set[str]:
    return {o["kind"] for o in objects}


def espy_container(objects: list[dict]) -> dict:
    return one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def validate_object(obj: dict) -> None:
    """Kubernetes' own schema for core kinds (strict: unknown keys fail), the CRD models
    for operator kinds; an object of any other kind fails."""
    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_MODELS:
        model = CRD_MODELS[key].model_validate(obj)
        # The models ignore unknown fields; a field lost in the round trip is one the CRD
        # does not have.
        dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)
        assert without_empty(dumped) == without_empty(obj), f"{key} has fields its CRD lacks"
        return
    kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def without_empty(value):
    if isinstance(value, dict):
        return {k: without_empty(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


# --- What espy exports and accepts, read from its sources ------------------------------


def espy_metrics() -> set[str]:
    """Series names espy exports: the constants of src/metrics.rs, with the _bucket, _sum
    and _count series of those described as histograms."""
    source = (REPO / "src" / "metrics.rs").read_text()
    constants = dict(re.findall(r'pub const (\w+): &str = "(\w+)";', source))
    histograms = set(re.findall(r"describe_histogram!\(\s*(\w+)", source))
    names = set(constants.values())
    for const in histograms:
        names |= {constants[const] + suffix for suffix in ("_bucket", "_sum", "_count")}
    assert "espy_build_info" in names and "espy_flush_duration_seconds_bucket" in names
    return names


def allowed_config_keys() -> set[str]:
    lines = KEYS_FILE.read_text().splitlines()
    keys = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    # An empty array of tables (`networks = []`) shows as the bare array's path.
    return keys | {key.split("[]")[0] for key in keys if "[]." in key}


def toml_keys(table: dict, prefix: str = "") -> set[str]:
    """Dotted paths of a parsed TOML document, in the notation of espy_config_keys.txt."""
    keys = set()
    for key, value in table.items():
        path = f"{prefix}{key}"
        if path == "kafka.options":
            keys.add("kafka.options.*")
        elif isinstance(value, dict):
            keys |= toml_keys(value, path + ".")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for entry in value:
                keys |= toml_keys(entry, path + "[].")
        else:
            keys.add(path)
    return keys


def rust_config_keys() -> tuple[set[str], set[str]]:
    """Keys the Rust config structs define, and the sections whose struct has no fields yet
    (their keys are taken on trust from espy_config_keys.txt)."""
    structs = {}
    for source in (REPO / "src").rglob("*.rs"):
        text = source.read_text()
        for name, body in re.findall(r"pub struct (\w+)\s*\{(.*?)^\}", text, re.S | re.M):
            structs[name] = re.findall(r"^\s*pub (\w+): ([^\n]+?),\s*$", body, re.M)
        for name in re.findall(r"pub struct (\w+)\s*\{\}", text):
            structs[name] = []

    keys, pending = set(), set()

    def walk(struct: str, prefix: str):
        fields = structs[struct]
        if not fields:
            pending.add(prefix.rstrip("."))
        for field, rust_type in fields:
            inner = re.sub(r"^(Option|Box)<(.*)>$", r"\2", rust_type.strip())
            vec = re.fullmatch(r"Vec<(\w+)>", inner)
            if inner in structs:
                walk(inner, f"{prefix}{field}.")
            elif vec and vec.group(1) in structs:
                # An empty array of tables shows as the bare array's path, as in
                # allowed_config_keys.
                keys.add(f"{prefix}{field}")
                walk(vec.group(1), f"{prefix}{field}[].")
            elif re.match(r"(BTreeMap|HashMap)<", inner):
                keys.add(f"{prefix}{field}.*")
            else:
                keys.add(f"{prefix}{field}")

    walk("Config", "")
    return keys, pending


def rendered_config(objects: list[dict]) -> dict:
    configmaps = [o for o in objects if o["kind"] == "ConfigMap" and "espy.toml" in o["data"]]
    assert len(configmaps) == 1
    return tomllib.loads(configmaps[0]["data"]["espy.toml"])


# --- The chart -------------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_chart_lints_clean_in_strict_mode(values):
    report = helm_python.lint(str(CHART), copy.deepcopy(values), strict=True,
                              kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == []


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_rendered_object_is_valid_for_its_schema(values):
    objects = render(values)
    assert {"Deployment", "ConfigMap", "Service", "ServiceAccount"} <= kinds(objects)
    for obj in objects:
        validate_object(obj)


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_object_carries_the_standard_labels(values):
    for obj in render(values):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "espy"
        assert labels["app.kubernetes.io/instance"] == "espy"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["helm.sh/chart"] == "espy-0.1.0"


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_rendered_config_parses_and_holds_only_known_keys(values):
    config = rendered_config(render(values))
    unknown = toml_keys(config) - allowed_config_keys()
    assert not unknown, f"keys espy would reject: {sorted(unknown)}"


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_pod_is_restricted_and_probed_on_the_metrics_port(values):
    objects = render(values)
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    container = espy_container(objects)
    security = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["requests"] and container["resources"]["limits"]

    port = container["ports"][0]
    assert port["name"] == "metrics"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    listen = rendered_config(objects)["metrics"]["listen"]
    assert listen == f"0.0.0.0:{port['containerPort']}"
    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["port"] == port["containerPort"]
    assert container["args"] == ["run", "--config", "/etc/espy/espy.toml"]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_pod_outlives_espys_shutdown_grace(values):
    objects = render(values)
    grace = rendered_config(objects)["shutdown"]["grace_secs"]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > grace


def test_a_pod_grace_period_at_or_below_espys_is_refused():
    with pytest.raises(helm_python.HelmRenderError, match="terminationGracePeriodSeconds"):
        render({"terminationGracePeriodSeconds": 25})
    assert one(render({"terminationGracePeriodSeconds": 60}), "Deployment")["spec"]["template"][
        "spec"
    ]["terminationGracePeriodSeconds"] == 60


def test_a_config_change_rolls_the_pods():
    def checksum(values):
        return one(render(values), "Deployment")["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]

    assert checksum({}) == checksum({})
    assert checksum({}) != checksum({"config": {"segment": {"max_records": 1000}}})


def test_secrets_reach_the_pod_by_reference_only():
    values = VALUE_SETS["s3-with-secrets"]
    objects = render(values)
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in espy_container(objects)["env"]}
    assert env == {
        "ESPY_KAFKA__OPTIONS__SASL_PASSWORD": {"name": "espy-kafka", "key": "sasl-password"},
        "AWS_ACCESS_KEY_ID": {"name": "espy-s3", "key": "AWS_ACCESS_KEY_ID"},
        "AWS_SECRET_ACCESS_KEY": {"name": "espy-s3", "key": "AWS_SECRET_ACCESS_KEY"},
    }
    assert "Secret" not in kinds(objects)
    config = rendered_config(objects)
    assert "sasl.password" not in config["kafka"]["options"]
    assert {"access_key_id", "secret_access_key"}.isdisjoint(config["output"]["s3"])


@pytest.mark.parametrize(
    "values",
    [
        {"config": {"kafka": {"options": {"sasl.password": "hunter2"}}}},
        {"config": {"output": {"s3": {"secret_access_key": "hunter2"}}}},
        {"config": {"kafka": {"brokerz": "kafka:9092"}}},
        {"replicas": 3},
    ],
    ids=["sasl-password-in-config", "s3-secret-in-config", "typo-in-config", "typo-in-values"],
)
def test_schema_refuses_secrets_in_config_and_unknown_keys(values):
    report = helm_python.lint(str(CHART), values, strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"], f"schema accepted {values}"


def test_folder_output_outside_the_mounted_folder_is_refused():
    with pytest.raises(helm_python.HelmRenderError, match="read-only"):
        render({"config": {"output": {"root": "./zeek-logs"}}})


def test_folder_output_writes_to_the_shared_claim():
    objects = render(VALUE_SETS["folder-pvc"])
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert volumes["zeek-logs"]["persistentVolumeClaim"] == {"claimName": "zeek-logs"}
    assert mounts["zeek-logs"]["mountPath"] == "/mnt/zeek"
    assert rendered_config(objects)["output"]["root"].startswith("/mnt/zeek/")
    assert one(objects, "Deployment")["spec"]["replicas"] == 3
    assert "HorizontalPodAutoscaler" not in kinds(objects)


def test_s3_output_mounts_no_folder():
    pod = one(render(VALUE_SETS["s3-with-secrets"]), "Deployment")["spec"]["template"]["spec"]
    assert "zeek-logs" not in {v["name"] for v in pod["volumes"]}


def test_defaults_scale_on_cpu_with_an_hpa_that_owns_the_replica_count():
    objects = render({})
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert "replicas" not in one(objects, "Deployment")["spec"]
    assert {"ScaledObject", "ServiceMonitor", "PrometheusRule"}.isdisjoint(kinds(objects))
    assert one(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_keda_scales_on_consumer_group_lag_of_each_topic():
    objects = render(VALUE_SETS["keda"])
    assert "HorizontalPodAutoscaler" not in kinds(objects)
    scaled = one(objects, "ScaledObject")["spec"]
    assert scaled["maxReplicaCount"] == 12
    assert scaled["scaleTargetRef"]["name"] == one(objects, "Deployment")["metadata"]["name"]
    triggers = scaled["triggers"]
    assert [t["metadata"]["topic"] for t in triggers] == ["winlogbeat", "nxlog"]
    for trigger in triggers:
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["bootstrapServers"] == "kafka:9092"
        assert trigger["metadata"]["consumerGroup"] == "espy-prod"
        assert trigger["metadata"]["lagThreshold"] == "2000000"
        assert trigger["authenticationRef"] == {"name": "espy-kafka"}


def test_hpa_and_keda_together_are_refused():
    with pytest.raises(helm_python.HelmRenderError, match="choose one"):
        render({"keda": {"enabled": True}})


def test_monitoring_objects_carry_the_rules_and_dashboard_files():
    objects = render(VALUE_SETS["monitoring"])
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    service_labels = one(objects, "Service")["metadata"]["labels"]
    # The alert rules select job="espy"; jobLabel takes the job from this Service label.
    assert service_labels["app.kubernetes.io/name"] == "espy"

    rule = one(objects, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(RULES.read_text())

    dashboards = [o for o in objects if o["kind"] == "ConfigMap" and "espy.json" in o["data"]]
    assert len(dashboards) == 1
    assert dashboards[0]["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboards[0]["data"]["espy.json"]) == json.loads(DASHBOARD.read_text())


# --- The plain manifests ---------------------------------------------------------------


def test_kustomize_builds_valid_namespace_agnostic_objects(kubectl):
    built = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE)], check=True, capture_output=True, text=True
    ).stdout
    objects = [doc for doc in yaml.safe_load_all(built) if doc]
    assert kinds(objects) == {
        "ServiceAccount", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }
    for obj in objects:
        validate_object(obj)
        assert "namespace" not in obj["metadata"]

    config = rendered_config(objects)
    assert not toml_keys(config) - allowed_config_keys()
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > config["shutdown"]["grace_secs"]
    # The generated ConfigMap's hashed name must be the one the pod mounts.
    configmap = one(objects, "ConfigMap")["metadata"]["name"]
    assert {"name": "config", "configMap": {"name": configmap}} in pod["volumes"]
    port = pod["containers"][0]["ports"][0]["containerPort"]
    assert config["metrics"]["listen"].endswith(f":{port}")


# --- espy's configuration keys ---------------------------------------------------------


def test_config_keys_list_agrees_with_the_rust_structs():
    rust_keys, pending = rust_config_keys()
    listed = allowed_config_keys()
    assert rust_keys - listed == set(), "keys in src/ missing from espy_config_keys.txt"
    settled = {k for k in listed if not any(k.startswith(p + ".") for p in pending)}
    assert settled - rust_keys == set(), "espy_config_keys.txt lists keys src/ lacks"


def test_example_config_uses_only_listed_keys():
    if not EXAMPLE_CONFIG.exists():
        pytest.xfail("config/espy.toml is not written yet; keys come from espy_config_keys.txt")
    config = tomllib.loads(EXAMPLE_CONFIG.read_text())
    assert not toml_keys(config) - allowed_config_keys()


# --- Alert rules -----------------------------------------------------------------------


def test_alert_rules_copy_is_identical_to_the_charts():
    assert hashlib.sha256(RULES_COPY.read_bytes()).hexdigest() == hashlib.sha256(
        RULES.read_bytes()
    ).hexdigest(), "cp helm/espy/rules/espy-alerts.yaml deploy/prometheus/espy-alerts.yaml"


def test_alert_rules_pass_promtool_check(promtool):
    result = subprocess.run([promtool, "check", "rules", str(RULES), str(RULES_COPY)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_unit_tests(promtool):
    result = subprocess.run([promtool, "test", "rules", str(RULES_TESTS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_fires_and_one_that_does_not():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    fired, silent = set(), set()
    for case in yaml.safe_load(RULES_TESTS.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    assert alerts == fired == silent


def test_alert_rules_read_only_metrics_espy_exports():
    exported = espy_metrics() | {"up"}
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert promql_metrics(rule["expr"]) <= exported, rule["alert"]


# --- Dashboard -------------------------------------------------------------------------

PROMQL_KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan"}


def promql_metrics(expr: str) -> set[str]:
    """Metric names an expression reads: identifiers that are not functions, aggregation
    modifiers, keywords, label names or values, durations or numbers."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][\w:]*", expr):
        following = expr[match.end():].lstrip()
        if following.startswith("(") or match.group() in PROMQL_KEYWORDS:
            continue
        names.add(match.group())
    return names


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries.append((panel["title"], target["expr"]))
    return queries


def test_promql_metrics_finds_names_inside_functions_and_matchers():
    expr = ('histogram_quantile(0.99, sum by (le) (rate(espy_flush_duration_seconds_bucket'
            '{job=~"$job", log="conn"}[$__rate_interval]))) > 1e6 and on (job) up offset 5m')
    assert promql_metrics(expr) == {"espy_flush_duration_seconds_bucket", "up"}


def test_dashboard_queries_read_only_metrics_espy_exports():
    exported = espy_metrics() | {"up"}
    for title, expr in dashboard_queries():
        read = promql_metrics(expr)
        assert read, f"{title}: no metric in {expr}"
        assert read <= exported, f"{title}: {sorted(read - exported)} not exported by espy"


def test_dashboard_queries_parse_as_promql(promtool, tmp_path):
    # promtool has no expression checker, but `check rules` parses every recording rule's
    # expression; Grafana's variables are replaced by what Grafana would substitute.
    rules = [
        {"record": f"dashboard:query_{i}",
         "expr": expr.replace("$__rate_interval", "5m").replace("$job", ".*")}
        for i, (_, expr) in enumerate(dashboard_queries())
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_covers_what_operators_watch():
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]

    read = set()
    for _, expr in dashboard_queries():
        read |= promql_metrics(expr)
    every_metric = {name for name in espy_metrics() if not name.endswith(("_sum", "_count"))}
    every_metric -= {"espy_flush_duration_seconds", "espy_commit_duration_seconds"}
    assert every_metric <= read, f"no panel reads {sorted(every_metric - read)}"
    quantiles = [e for _, e in dashboard_queries() if "histogram_quantile" in e]
    assert any("espy_flush_duration_seconds_bucket" in e for e in quantiles)
    assert any("espy_commit_duration_seconds_bucket" in e for e in quantiles)
