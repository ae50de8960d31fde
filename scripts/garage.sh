#!/usr/bin/env bash
# A local S3-compatible store for espy's Zeek objects: one Garage node, for operators who
# want object storage without a cloud account (for example on the RITA machine itself).
#
# Garage accepts If-None-Match on PUT but ignores it and overwrites, so espy must run with
# `create_only = false` against it. Output stays exactly once (a replay rewrites identical
# bytes), but espy can no longer detect two writers that disagree; docs/operations.md says
# what that costs.
#
# One node has no redundancy. Put GARAGE_DATA on RAID or ZFS, keep the metadata snapshots
# this configuration enables, and back the folder up like any other archive.
#
# Usage: scripts/garage.sh COMMAND   (the first time: install, configure, unit or run)
#   install    cargo install garage (compiles for about 30 minutes)
#   configure  write garage.toml, its secrets and the default key; never overwrites
#   run        start the server in the foreground with the default key and bucket
#   unit       print a systemd unit that starts the server at boot
#   settings   print espy's [output] settings (TOML on stdout, hints on stderr)
#   status     show the node's status
#
# Settings, from the environment (defaults in brackets):
#   GARAGE_VERSION [2.5.0]      crate version; --single-node needs 2.3.0 or later
#   GARAGE_PREFIX [/usr/local]  cargo install --root; the binary is PREFIX/bin/garage
#   GARAGE_ETC [/etc/garage]    garage.toml, secrets, key files (mode 0600)
#   GARAGE_DATA [/var/lib/garage]  metadata and object data
#   GARAGE_S3_BIND [[::]:3900]  S3 API listen address (plain HTTP)
#   GARAGE_S3_REGION [garage]   s3_region; espy's output.s3.region must equal it
#   GARAGE_USER [garage]        system user that owns the files when run as root;
#                               empty: files stay owned by the caller
#   GARAGE_DEFAULT_BUCKET [zeek], GARAGE_DEFAULT_ACCESS_KEY, GARAGE_DEFAULT_SECRET_KEY
#                               bucket and key Garage creates on first start; the key is
#                               generated when unset (GK + 24 hex, 64 hex secret)
#   ESPY_S3_ENDPOINT [http://<this host's name>:<port>]  endpoint espy should use
#   ESPY_PREFIX [espy]          key prefix under the bucket for espy's root
set -euo pipefail

GARAGE_VERSION="${GARAGE_VERSION:-2.5.0}"
GARAGE_MIN_VERSION="2.3.0"
GARAGE_PREFIX="${GARAGE_PREFIX:-/usr/local}"
GARAGE_ETC="${GARAGE_ETC:-/etc/garage}"
GARAGE_DATA="${GARAGE_DATA:-/var/lib/garage}"
GARAGE_S3_BIND="${GARAGE_S3_BIND:-[::]:3900}"
GARAGE_S3_REGION="${GARAGE_S3_REGION:-garage}"
GARAGE_USER="${GARAGE_USER-garage}"
ESPY_PREFIX="${ESPY_PREFIX:-espy}"

garage_bin="$GARAGE_PREFIX/bin/garage"
config_file="$GARAGE_ETC/garage.toml"
secrets_dir="$GARAGE_ETC/secrets"
# Read by `garage server --default-bucket`; also the systemd unit's EnvironmentFile.
default_key_file="$GARAGE_ETC/default-key.env"
# The same key under the names espy reads, for `kubectl create secret --from-env-file`.
espy_env_file="$GARAGE_ETC/espy-s3.env"

log() { printf '[garage] %s\n' "$*" >&2; }
die() { printf '[garage] error: %s\n' "$*" >&2; exit 1; }

usage() {
    # The header comment from "Usage:" to the end of the settings list.
    sed -n '/^# Usage:/,/^set -euo/{/^set -euo/d;s/^#[ ]\{0,1\}//;p;}' "${BASH_SOURCE[0]}"
    exit "${1:-0}"
}

# Random hex from the kernel: no dependency on openssl being installed.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# "1.2.3" -> exit 0 when $1 >= $2.
version_at_least() {
    [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

installed_version() {
    [[ -x "$garage_bin" ]] || return 1
    "$garage_bin" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1
}

# Writes a file only if it does not exist yet, with mode 0600; its content comes on stdin.
# Existing files are kept so that secrets and keys never change under a running store.
write_once() {
    local path="$1"
    if [[ -e "$path" ]]; then
        log "keeping existing $path"
        cat >/dev/null
        return
    fi
    (umask 077 && cat >"$path")
    log "wrote $path"
}

cmd_install() {
    command -v cargo >/dev/null || die "cargo not found: install Rust first (https://rustup.rs)"
    version_at_least "$GARAGE_VERSION" "$GARAGE_MIN_VERSION" ||
        die "GARAGE_VERSION=$GARAGE_VERSION: --single-node and --default-bucket need $GARAGE_MIN_VERSION or later"
    local have
    if have="$(installed_version)" && version_at_least "$have" "$GARAGE_VERSION"; then
        log "garage $have is installed at $garage_bin"
        return
    fi
    # --locked builds with the dependency versions Garage was released and tested with.
    # Building needs a C compiler (Debian: build-essential) for the bundled SQLite/LMDB.
    log "cargo install garage $GARAGE_VERSION into $GARAGE_PREFIX (about 30 minutes)"
    cargo install garage --version "$GARAGE_VERSION" --locked --root "$GARAGE_PREFIX"
    log "installed $("$garage_bin" --version)"
}

cmd_configure() {
    mkdir -p "$GARAGE_ETC" "$secrets_dir" "$GARAGE_DATA/meta" "$GARAGE_DATA/data"
    chmod 0700 "$secrets_dir" "$GARAGE_DATA/meta" "$GARAGE_DATA/data"

    random_hex 32 | write_once "$secrets_dir/rpc_secret"
    random_hex 32 | write_once "$secrets_dir/admin_token"
    random_hex 32 | write_once "$secrets_dir/metrics_token"

    if [[ ! -e "$default_key_file" ]]; then
        local key_id="${GARAGE_DEFAULT_ACCESS_KEY:-GK$(random_hex 12)}"
        local secret="${GARAGE_DEFAULT_SECRET_KEY:-$(random_hex 32)}"
        local bucket="${GARAGE_DEFAULT_BUCKET:-zeek}"
        # Garage imports the key as given and rejects other shapes at start-up; failing
        # here names the variable instead.
        [[ "$key_id" =~ ^GK[0-9a-f]{24}$ ]] ||
            die "GARAGE_DEFAULT_ACCESS_KEY must be GK followed by 24 lower-case hex digits"
        [[ "$secret" =~ ^[0-9a-f]{64}$ ]] ||
            die "GARAGE_DEFAULT_SECRET_KEY must be 64 lower-case hex digits"
        [[ "$bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] ||
            die "GARAGE_DEFAULT_BUCKET=$bucket is not a valid S3 bucket name"
        printf 'GARAGE_DEFAULT_ACCESS_KEY=%s\nGARAGE_DEFAULT_SECRET_KEY=%s\nGARAGE_DEFAULT_BUCKET=%s\n' \
            "$key_id" "$secret" "$bucket" | write_once "$default_key_file"
        printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$key_id" "$secret" |
            write_once "$espy_env_file"
    else
        log "keeping existing $default_key_file"
    fi

    write_once "$config_file" <<TOML
# Written by scripts/garage.sh configure: one Garage node holding espy's Zeek objects.
metadata_dir = "$GARAGE_DATA/meta"
data_dir = "$GARAGE_DATA/data"

# SQLite recovers from an unclean shutdown where LMDB can be left corrupted, and a single
# node has no peer to rebuild its metadata from. espy's write rate (a few objects per
# partition every few minutes) is far below what SQLite handles.
db_engine = "sqlite"

# espy commits Kafka offsets as soon as a PUT succeeds, so an acknowledged object must
# already be on disk: without fsync a power cut could lose objects whose offsets are
# committed, and those rows would never be written again.
metadata_fsync = true
data_fsync = true
metadata_auto_snapshot_interval = "6h"

replication_factor = 1

# Internal RPC, used only by the garage CLI on this machine.
rpc_bind_addr = "127.0.0.1:3901"
rpc_public_addr = "127.0.0.1:3901"
rpc_secret_file = "$secrets_dir/rpc_secret"

[s3_api]
# Plain HTTP. Bind to a private interface, or put a TLS proxy in front and give espy an
# https endpoint.
api_bind_addr = "$GARAGE_S3_BIND"
s3_region = "$GARAGE_S3_REGION"

[admin]
# Metrics for Prometheus (bearer metrics_token) and the admin API, on loopback only.
api_bind_addr = "127.0.0.1:3903"
admin_token_file = "$secrets_dir/admin_token"
metrics_token_file = "$secrets_dir/metrics_token"
TOML

    if [[ -n "$GARAGE_USER" && $(id -u) -eq 0 ]]; then
        if ! id "$GARAGE_USER" >/dev/null 2>&1; then
            useradd --system --home-dir "$GARAGE_DATA" --shell /usr/sbin/nologin "$GARAGE_USER"
            log "created system user $GARAGE_USER"
        fi
        chown -R "$GARAGE_USER:" "$GARAGE_ETC" "$GARAGE_DATA"
    fi
}

cmd_run() {
    local have
    have="$(installed_version)" || die "no garage at $garage_bin: run '$0 install' first"
    version_at_least "$have" "$GARAGE_MIN_VERSION" ||
        die "garage $have is too old for --single-node; install $GARAGE_MIN_VERSION or later"
    [[ -r "$config_file" && -r "$default_key_file" ]] || die "run '$0 configure' first"
    # --single-node lays out a one-node cluster; --default-bucket creates the key and
    # bucket named in the environment if they do not exist yet.
    set -a
    # shellcheck source=/dev/null
    . "$default_key_file"
    set +a
    export GARAGE_CONFIG_FILE="$config_file"
    exec "$garage_bin" server --single-node --default-bucket
}

cmd_unit() {
    cat <<UNIT
# /etc/systemd/system/garage.service, printed by scripts/garage.sh unit. Then:
#   systemctl daemon-reload && systemctl enable --now garage
[Unit]
Description=Garage S3 store for espy's Zeek objects
After=network-online.target
Wants=network-online.target

[Service]
${GARAGE_USER:+User=$GARAGE_USER
Group=$GARAGE_USER
}Environment=GARAGE_CONFIG_FILE=$config_file
# The default key and bucket: created on the first start, left alone afterwards. If you
# rotate the key with the garage CLI, update this file too, or the old key comes back.
EnvironmentFile=$default_key_file
ExecStart=$garage_bin server --single-node --default-bucket
Restart=on-failure
RestartSec=5
LimitNOFILE=65536
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
ReadWritePaths=$GARAGE_DATA
ReadOnlyPaths=$GARAGE_ETC

[Install]
WantedBy=multi-user.target
UNIT
}

cmd_settings() {
    [[ -r "$config_file" && -r "$default_key_file" ]] || die "run '$0 configure' first"
    local region bucket port endpoint allow_http
    # Read back what the store really uses, so the region printed is the one Garage checks
    # signatures against even if garage.toml was written by an earlier run.
    region="$(sed -n 's/^s3_region *= *"\(.*\)".*/\1/p' "$config_file" | head -n1)"
    bucket="$(sed -n 's/^GARAGE_DEFAULT_BUCKET=//p' "$default_key_file")"
    port="$(sed -n '/^\[s3_api\]/,/^\[/ s/^api_bind_addr *= *".*:\([0-9]*\)".*/\1/p' "$config_file")"
    [[ -n "$region" && -n "$bucket" && -n "$port" ]] || die "cannot read region, bucket or port from $config_file"
    endpoint="${ESPY_S3_ENDPOINT:-http://$(hostname -f 2>/dev/null || hostname):$port}"
    allow_http=false
    [[ "$endpoint" == http://* ]] && allow_http=true

    cat <<TOML
# espy [output] settings for this Garage store (config/espy.toml, or the chart's
# config.output values).
[output]
root = "s3://$bucket/$ESPY_PREFIX"
# Garage ignores If-None-Match and overwrites: create-only writes cannot work here.
create_only = false

[output.s3]
endpoint = "$endpoint"
# Must equal s3_region in $config_file, or Garage rejects every signature.
region = "$region"
allow_http = $allow_http
TOML

    cat >&2 <<HINTS
[garage] credentials: give espy AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from a Secret,
[garage] never in espy.toml or Helm values; from the env file, without printing them:
[garage]   kubectl -n hunting create secret generic espy-s3 --from-env-file=$espy_env_file
[garage]   helm upgrade --install espy helm/espy -n hunting \\
[garage]     --set secrets.s3Credentials.existingSecret=espy-s3 ...
HINTS
    if [[ "$allow_http" == true ]]; then
        log "the endpoint is plain HTTP: keep it on a private network or put TLS in front"
    fi
}

cmd_status() {
    [[ -x "$garage_bin" ]] || die "no garage at $garage_bin"
    GARAGE_CONFIG_FILE="$config_file" "$garage_bin" status
}

main() {
    case "${1:-}" in
        install) cmd_install ;;
        configure) cmd_configure ;;
        run) cmd_run ;;
        unit) cmd_unit ;;
        settings) cmd_settings ;;
        status) cmd_status ;;
        -h | --help | help) usage 0 ;;
        *) usage 2 >&2 ;;
    esac
}

main "$@"
