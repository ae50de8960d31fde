"""The Zeek tree `espy convert` writes from the test corpus, read back by the Python tools
analysts use: zat (`LogToDataFrame` and `ZeekLogReader`) and parsezeeklogs.

Every object is read whole by each reader; row counts must equal the tree's and the
summary's, and the typed columns (ts, ports, addresses) must come back as their types.

espy writes each object as a series of gzip members. Python's `gzip` reads all members;
parsezeeklogs opens `.gz` files through it. zat opens files as plain text only, so each object
is decompressed with `gzip` to a temporary `.log` first. The test checks that the corpus
output has multi-member objects, so that this is exercised.
"""

import gzip
import ipaddress
import os
import re
import subprocess
import zlib
from pathlib import Path

import pandas as pd
import pytest
from parsezeeklogs import ZeekLog
from zat.log_to_dataframe import LogToDataFrame
from zat.zeek_log_reader import ZeekLogReader

from conftest import REPO


@pytest.fixture(scope="session")
def espy_bin() -> Path:
    """`ESPY_BIN`, or the debug build, built (or brought up to date) by cargo."""
    explicit = os.environ.get("ESPY_BIN")
    if explicit:
        if not os.access(explicit, os.X_OK):
            pytest.fail(f"ESPY_BIN={explicit} is not an executable file")
        return Path(explicit)
    subprocess.run(["cargo", "build", "--locked", "--bin", "espy"], cwd=REPO, check=True)
    return REPO / "target" / "debug" / "espy"


def input_files() -> list[Path]:
    corpus = sorted((REPO / "tests" / "data" / "corpus").glob("*/*.ndjson"))
    fixtures = sorted((REPO / "tests" / "data" / "fixtures").glob("*.ndjson"))
    return corpus + fixtures


@pytest.fixture(scope="session")
def tree(espy_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The converted tree: its root, the printed summary and each object's rows as text."""
    root = tmp_path_factory.mktemp("zeek")
    done = subprocess.run(
        [str(espy_bin), "convert", "--out", str(root), *map(str, input_files())],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = re.search(r"^rows written:\s+(\d+) \((.*)\)$", done.stdout, re.MULTILINE)
    assert rows, done.stdout
    per_log = {name: int(count) for name, count in (p.split(" ") for p in rows[2].split(", "))}
    objects = {}
    for path in sorted(root.rglob("*.log.gz")):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            text = handle.read()
        objects[path] = [line for line in text.split("\n") if line and not line.startswith("#")]
    assert objects, done.stdout
    return {
        "root": root,
        "stdout": done.stdout,
        "total": int(rows[1]),
        "per_log": per_log,
        "objects": objects,
    }


def gzip_members(path: Path) -> int:
    data, members = path.read_bytes(), 0
    while data:
        decoder = zlib.decompressobj(wbits=31)
        decoder.decompress(data)
        data = decoder.unused_data
        members += 1
    return members


def plain_copy(path: Path, folder: Path) -> Path:
    """The object decompressed with Python's gzip, for zat, which reads plain text only."""
    target = folder / path.name.removesuffix(".gz")
    with gzip.open(path, "rb") as source:
        target.write_bytes(source.read())
    return target


def log_type(path: Path) -> str:
    return path.name.split(".", 1)[0]


def is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def test_the_tree_holds_what_the_summary_says_in_multi_member_objects(tree: dict) -> None:
    objects = tree["objects"]
    assert sum(len(rows) for rows in objects.values()) == tree["total"]
    for log in ("conn", "dns"):
        written = sum(len(rows) for path, rows in objects.items() if log_type(path) == log)
        assert written == tree["per_log"][log] > 0
    assert any(gzip_members(path) > 1 for path in objects), "no multi-member object to read"


def test_zat_dataframes_read_every_row_with_typed_columns(tree: dict, tmp_path: Path) -> None:
    reader = LogToDataFrame()
    for path, rows in tree["objects"].items():
        frame = reader.create_dataframe(str(plain_copy(path, tmp_path)), ts_index=False)
        assert len(frame) == len(rows), path
        assert pd.api.types.is_datetime64_any_dtype(frame["ts"]), path
        assert frame["ts"].notna().all(), path
        assert str(frame["id.orig_p"].dtype) == "UInt16", path
        assert str(frame["id.resp_p"].dtype) == "UInt16", path
        for column in ("id.orig_h", "id.resp_h"):
            assert all(is_address(str(value)) for value in frame[column]), (path, column)
        assert frame["uid"].str.fullmatch(r"C[0-9A-Za-z]{17}").all(), path
        if log_type(path) == "conn":
            # Every conn row has both ports; DNS rows leave them unset.
            assert frame["id.orig_p"].notna().all(), path
            assert set(frame["local_orig"].astype(str)) <= {"T", "F"}, path
        else:
            assert frame["id.orig_p"].isna().all(), path


def test_zat_log_reader_reads_every_row_strictly(tree: dict, tmp_path: Path) -> None:
    for path, rows in tree["objects"].items():
        reader = ZeekLogReader(str(plain_copy(path, tmp_path)), strict=True)
        records = list(reader.readrows())
        assert len(records) == len(rows), path
        for record in records:
            assert record["ts"].year >= 2000, (path, record)
            assert isinstance(record["id.orig_p"], int) and 0 <= record["id.orig_p"] <= 65535
            assert is_address(record["id.orig_h"]) and is_address(record["id.resp_h"]), record
            assert record["agent_uuid"] != "-", record


def test_parsezeeklogs_reads_every_gzip_object_without_skipping_a_line(tree: dict) -> None:
    for path, rows in tree["objects"].items():
        errors = []
        with ZeekLog(path, on_error=lambda number, line, exc: errors.append((number, exc))) as log:
            assert log.path == log_type(path)
            records = list(log)
        assert not errors, (path, errors[:3])
        assert log.skipped == 0
        assert len(records) == len(rows), path
        for record in records:
            assert isinstance(record["ts"], float) and record["ts"] > 946684800, record
            port = record["id.orig_p"]
            assert port is None or isinstance(port, int), record
            assert is_address(record["id.orig_h"]) and is_address(record["id.resp_h"]), record
            if log_type(path) == "dns":
                assert isinstance(record["answers"], list) or record["answers"] is None, record
                assert record["query"], record
