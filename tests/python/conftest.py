"""Shared helpers for the deployment tests: where the repository is and where the tools are.

A missing tool is a failure, not a skip: these tests are how CI knows the chart, the
manifests and the alert rules work, and a silent skip would hide that they never ran.
"""

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def find_tool(name: str, env_var: str) -> str:
    """The tool named by `env_var`, else `name` on PATH; fails the test when neither exists."""
    explicit = os.environ.get(env_var)
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            pytest.fail(f"{env_var}={explicit} is not an executable file")
        return explicit
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} not found: set {env_var} or put it on PATH "
            "(tests/services/install.sh installs it)"
        )
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    return find_tool("promtool", "PROMTOOL_BIN")


@pytest.fixture(scope="session")
def kubectl() -> str:
    return find_tool("kubectl", "KUBECTL_BIN")
