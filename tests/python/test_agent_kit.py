"""The Windows agent kit and operator documents, checked as specifications: the Winlogbeat
configuration feeds the topic espy consumes with raw Sysmon 3/22 events over verified TLS,
the Sysmon configuration logs network and DNS events and nothing else, the documents link
only to paths that exist, and the Garage helper prints settings that match the store it
configures.

Run: `pytest tests/python/test_agent_kit.py` (needs pyyaml from tests/services/install.sh).
"""

import ipaddress
import json
import os
import re
import stat
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import REPO

WINLOGBEAT = REPO / "config" / "winlogbeat.yml"
SYSMON = REPO / "config" / "sysmon.xml"
ESPY_CONFIG = REPO / "config" / "espy.toml"
GARAGE = REPO / "scripts" / "garage.sh"
CORPUS = REPO / "tests" / "data" / "corpus"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"

# Every filterable event type of Sysmon 15 (schema 4.90). Types missing from a
# configuration fall back to Sysmon's built-in defaults, so all of them must be listed.
SYSMON_EVENT_TYPES = {
    "ProcessCreate", "FileCreateTime", "NetworkConnect", "ProcessTerminate", "DriverLoad",
    "ImageLoad", "CreateRemoteThread", "RawAccessRead", "ProcessAccess", "FileCreate",
    "RegistryEvent", "FileCreateStreamHash", "PipeEvent", "WmiEvent", "DnsQuery",
    "FileDelete", "ClipboardChange", "ProcessTampering", "FileDeleteDetected",
    "FileBlockExecutable", "FileBlockShredding", "FileExecutableDetected",
}

# Fields that name a process; excluding on them hides whatever runs in that process.
SYSMON_PROCESS_FIELDS = {"Image", "ParentImage", "ProcessGuid", "ProcessId", "User"}

# Winlogbeat processors that only add fields and leave winlog.* as Winlogbeat read it.
ADDING_PROCESSORS = {"add_host_metadata", "add_tags", "add_labels", "add_fields"}

SECRET_KEY_NAMES = re.compile(r"password|passphrase|secret|token|api_key", re.IGNORECASE)
KEYSTORE_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_.]*\}$")


def expand_dotted(node):
    """Beats configuration written with dotted keys (`output.kafka:`) as nested mappings,
    the way Winlogbeat itself reads it."""
    if isinstance(node, list):
        return [expand_dotted(item) for item in node]
    if not isinstance(node, dict):
        return node
    expanded: dict = {}
    for key, value in node.items():
        parts = str(key).split(".")
        target = expanded
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        value = expand_dotted(value)
        if isinstance(value, dict) and isinstance(target.get(parts[-1]), dict):
            target[parts[-1]].update(value)
        else:
            target[parts[-1]] = value
    return expanded


@pytest.fixture(scope="module")
def winlogbeat() -> dict:
    return expand_dotted(yaml.safe_load(WINLOGBEAT.read_text()))


@pytest.fixture(scope="module")
def kafka_output(winlogbeat) -> dict:
    return winlogbeat["output"]["kafka"]


@pytest.fixture(scope="module")
def espy_kafka() -> dict:
    return tomllib.loads(ESPY_CONFIG.read_text())["kafka"]


@pytest.fixture(scope="module")
def sysmon() -> ET.Element:
    return ET.parse(SYSMON).getroot()


def event_filters(sysmon: ET.Element) -> list[ET.Element]:
    """The event-type elements (NetworkConnect, DnsQuery, ...) of every rule group."""
    filtering = sysmon.find("EventFiltering")
    assert filtering is not None, "sysmon.xml has no EventFiltering section"
    return [event for group in filtering.findall("RuleGroup") for event in group]


def parse_event_ids(value) -> set[int]:
    """Winlogbeat's event_id filter ("3, 22") as a set; ranges and exclusions are refused
    so that the assertion below cannot be satisfied by accident."""
    ids = set()
    for part in str(value).split(","):
        part = part.strip()
        assert re.fullmatch(r"\d+", part), f"event_id entry {part!r} is not a single id"
        ids.add(int(part))
    return ids


def byte_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([KMGT]?i?B)", str(text).strip(), re.IGNORECASE)
    assert match, f"{text!r} is not a byte size"
    unit = match.group(2).upper()
    scale = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
             "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}[unit]
    return int(match.group(1)) * scale


# --------------------------------------------------------------------------- Winlogbeat


def test_winlogbeat_config_parses_and_has_only_a_kafka_output(winlogbeat):
    assert set(winlogbeat["output"]) == {"kafka"}


def test_winlogbeat_publishes_to_the_topic_espy_consumes(kafka_output, espy_kafka):
    assert kafka_output["topic"] in espy_kafka["topics"]
    assert kafka_output["topic"] == espy_kafka["topics"][0]


def test_winlogbeat_keys_messages_by_agent_id_and_keeps_a_host_on_its_partition(kafka_output):
    assert kafka_output["key"] == "%{[agent.id]}"
    partition = kafka_output["partition"]
    assert set(partition) == {"hash"}, "only the hash partitioner keeps a key on one partition"
    # No hash fields: the key is hashed. reachable_only false: a host waits for its own
    # partition instead of moving while a broker is down.
    assert not partition["hash"].get("hash")
    assert partition["hash"]["reachable_only"] is False


def test_winlogbeat_waits_for_every_in_sync_replica(kafka_output):
    assert kafka_output["required_acks"] == -1


def test_winlogbeat_messages_stay_under_espy_size_limit(kafka_output, espy_kafka):
    assert 0 < kafka_output["max_message_bytes"] <= espy_kafka["max_message_bytes"]


def test_winlogbeat_verifies_the_brokers_certificates(kafka_output):
    ssl = kafka_output["ssl"]
    assert ssl.get("enabled", True) is True
    assert ssl.get("verification_mode", "full") in ("full", "strict")
    authorities = ssl["certificate_authorities"]
    assert isinstance(authorities, list) and authorities


def test_winlogbeat_authenticates_with_scram_credentials_from_the_keystore(kafka_output):
    assert kafka_output["sasl"]["mechanism"] == "SCRAM-SHA-512"
    assert KEYSTORE_REFERENCE.match(kafka_output["password"])
    assert KEYSTORE_REFERENCE.match(kafka_output["username"])


def test_winlogbeat_config_holds_no_plaintext_secret(winlogbeat):
    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{path}[{index}]")
        else:
            yield path, node

    secrets = [(path, value) for path, value in walk(winlogbeat, "")
               if SECRET_KEY_NAMES.search(path.rsplit(".", 1)[-1])]
    assert secrets, "expected at least the Kafka password setting"
    for path, value in secrets:
        assert isinstance(value, str) and KEYSTORE_REFERENCE.match(value), (
            f"{path} must be a ${{KEYSTORE_KEY}} reference, not a literal value")


def test_winlogbeat_forwards_only_sysmon_network_and_dns_events(winlogbeat):
    event_logs = winlogbeat["winlogbeat"]["event_logs"]
    assert len(event_logs) == 1, "only the Sysmon channel is read"
    (sysmon_log,) = event_logs
    assert sysmon_log["name"] == SYSMON_CHANNEL
    assert parse_event_ids(sysmon_log["event_id"]) == {3, 22}
    # An XML query would replace the event_id filter.
    assert "xml_query" not in sysmon_log


def test_winlogbeat_adds_host_addresses_and_leaves_event_data_raw(winlogbeat):
    processors = winlogbeat["processors"]
    names = [name for processor in processors for name in processor]
    assert "add_host_metadata" in names, "DNS rows take the client address from host.ip"
    assert set(names) <= ADDING_PROCESSORS, f"processors that may reshape events: {names}"
    for processor in processors:
        target = (processor.get("add_fields") or {}).get("target", "fields")
        assert not str(target).startswith("winlog"), "add_fields must not write into winlog"
    for event_log in winlogbeat["winlogbeat"]["event_logs"]:
        assert "processors" not in event_log


def test_winlogbeat_queues_on_disk_so_offline_hosts_keep_their_events(winlogbeat):
    queue = winlogbeat["queue"]
    assert set(queue) == {"disk"}
    assert byte_size(queue["disk"]["max_size"]) >= 10**9


# ------------------------------------------------------------------------------ Sysmon


def test_sysmon_config_parses_with_a_numeric_schema_version(sysmon):
    assert sysmon.tag == "Sysmon"
    version = sysmon.get("schemaversion")
    assert version is not None and re.fullmatch(r"\d+\.\d+", version)
    assert float(version) > 0


def test_sysmon_logs_network_connections_and_dns_queries_except_named_exclusions(sysmon):
    by_type = {}
    for event in event_filters(sysmon):
        by_type.setdefault(event.tag, []).append(event)
    for tag in ("NetworkConnect", "DnsQuery"):
        assert [e.get("onmatch") for e in by_type.get(tag, [])] == ["exclude"], (
            f"{tag} must be one exclude group: log everything but the listed exceptions")
        for rule in by_type[tag][0].iter():
            if rule is not by_type[tag][0]:
                assert rule.get("name"), f"{tag} exclusion {rule.tag} needs a name"
                assert rule.tag not in SYSMON_PROCESS_FIELDS, (
                    f"{tag} excludes by {rule.tag}: beacons hide in processes")


def test_sysmon_switches_off_every_other_event_type(sysmon):
    seen = set()
    for event in event_filters(sysmon):
        seen.add(event.tag)
        if event.tag in ("NetworkConnect", "DnsQuery"):
            continue
        assert event.get("onmatch") == "include" and len(event) == 0, (
            f"{event.tag} must be an empty include filter (logs nothing)")
    assert seen == SYSMON_EVENT_TYPES


def test_sysmon_makes_no_reverse_lookups_of_its_own(sysmon):
    assert (sysmon.findtext("DnsLookup") or "").strip().lower() == "false"


def corpus_connections():
    """(source, destination) address strings of every Sysmon event 3 in the corpus, as
    Sysmon wrote them."""
    for path in sorted(CORPUS.glob("*/*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            data = doc.get("event_data") or doc
            event_id = doc.get("event_id", doc.get("EventID"))
            if str(event_id) == "3" and "DestinationIp" in data and "SourceIp" in data:
                yield data["SourceIp"], data["DestinationIp"]


def sysmon_rule_matches(rule: ET.Element, value: str) -> bool:
    """Sysmon's comparison for the conditions this configuration uses (case-insensitive);
    an unknown condition fails the test so that this evaluator grows with the file."""
    condition = rule.get("condition", "is")
    value, wanted = value.lower(), (rule.text or "").strip().lower()
    if condition == "is":
        return value == wanted
    if condition == "is any":
        return value in wanted.split(";")
    if condition == "begins with":
        return value.startswith(wanted)
    pytest.fail(f"no evaluator for Sysmon condition {condition!r}")


def test_sysmon_network_exclusions_drop_only_loopback_and_discovery_multicast(sysmon):
    (network,) = [e for e in event_filters(sysmon) if e.tag == "NetworkConnect"]
    rules = list(network)
    discovery_groups = {ipaddress.ip_address(a) for a in (
        "224.0.0.251", "224.0.0.252", "239.255.255.250", "ff02::fb", "ff02::1:3", "ff02::c")}

    loopback_seen = 0
    for source, destination in corpus_connections():
        fields = {"SourceIp": source, "DestinationIp": destination}
        excluded = any(sysmon_rule_matches(rule, fields[rule.tag]) for rule in rules
                       if rule.tag in fields)
        src, dst = ipaddress.ip_address(source), ipaddress.ip_address(destination)
        local_only = dst.is_loopback or src in discovery_groups or dst in discovery_groups
        assert excluded == local_only, (
            f"{source} -> {destination}: excluded={excluded}, but only loopback and "
            "service-discovery multicast may be dropped")
        loopback_seen += dst.is_loopback
    assert loopback_seen, "the corpus should hold loopback connections to check against"


# ------------------------------------------------------------------------------- Documents


def markdown_link_targets(text: str) -> list[str]:
    """Targets of inline Markdown links, outside fenced code blocks."""
    without_code = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", without_code)


def test_operator_documents_exist():
    assert (REPO / "docs" / "agents.md").is_file()
    assert (REPO / "docs" / "operations.md").is_file()


@pytest.mark.parametrize("document", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_document_links_to_repository_paths_resolve(document):
    for target in markdown_link_targets(document.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = (document.parent / target.split("#", 1)[0]).resolve()
        assert path.exists(), f"{document.relative_to(REPO)} links to missing {target}"
        assert REPO in path.parents or path == REPO, f"{target} leaves the repository"


# ---------------------------------------------------------------------------------- Garage


def test_garage_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(GARAGE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def run_garage(command: str, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "GARAGE_ETC": str(tmp_path / "etc"),
        "GARAGE_DATA": str(tmp_path / "data"),
        # Empty: no system user is created and files stay with the test's user.
        "GARAGE_USER": "",
        **env,
    }
    return subprocess.run([str(GARAGE), command], capture_output=True, text=True,
                          env=environment, timeout=60)


def test_garage_settings_match_the_store_it_configures(tmp_path):
    configured = run_garage("configure", tmp_path, GARAGE_S3_REGION="lab-eu-1",
                            GARAGE_DEFAULT_BUCKET="zeek-archive")
    assert configured.returncode == 0, configured.stderr
    garage_toml = tomllib.loads((tmp_path / "etc" / "garage.toml").read_text())

    printed = run_garage("settings", tmp_path, ESPY_S3_ENDPOINT="http://rita.lab:3900")
    assert printed.returncode == 0, printed.stderr
    settings = tomllib.loads(printed.stdout)

    output = settings["output"]
    assert output["create_only"] is False, "Garage overwrites despite If-None-Match"
    assert output["root"].startswith("s3://zeek-archive/")
    assert output["s3"]["region"] == garage_toml["s3_api"]["s3_region"] == "lab-eu-1"
    assert output["s3"]["endpoint"] == "http://rita.lab:3900"
    assert output["s3"]["allow_http"] is True

    key_file = (tmp_path / "etc" / "default-key.env").read_text()
    secret = re.search(r"^GARAGE_DEFAULT_SECRET_KEY=(\w+)$", key_file, re.MULTILINE).group(1)
    assert secret not in printed.stdout + printed.stderr, "settings must not print the secret"
    for name in ("default-key.env", "espy-s3.env", "garage.toml", "secrets/rpc_secret"):
        mode = stat.S_IMODE((tmp_path / "etc" / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"


def test_garage_configure_refuses_a_key_garage_would_reject(tmp_path):
    result = run_garage("configure", tmp_path, GARAGE_DEFAULT_ACCESS_KEY="not-a-garage-key")
    assert result.returncode != 0
    assert "GARAGE_DEFAULT_ACCESS_KEY" in result.stderr
    assert not (tmp_path / "etc" / "default-key.env").exists()
