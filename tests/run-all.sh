#!/usr/bin/env bash
# The project's whole test suite, as CI runs it: installs the test services,
# then formatting, lints, Rust tests (unit, integration, doc) and Python tests.
# Every step runs even after an earlier one fails; the exit code is non-zero if
# any failed. Benchmarks are compiled (by clippy --all-targets) but never run.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

failed=()
summary=()

# Runs one named step with a header and its duration; records failures.
step() {
    local name="$1"
    shift
    printf '\n===== %s =====\n' "$name"
    local start=$SECONDS
    "$@"
    local rc=$?
    local took=$((SECONDS - start))
    if ((rc == 0)); then
        summary+=("ok    ${took}s  $name")
    else
        summary+=("FAIL  ${took}s  $name (exit $rc)")
        failed+=("$name")
    fi
    return 0
}

# pytest exits 5 when it collected no tests: that is not a failure while the
# Python suite is still empty.
run_pytest() {
    if ! compgen -G 'tests/python/**/test_*.py' >/dev/null && ! compgen -G 'tests/python/test_*.py' >/dev/null; then
        echo "no Python tests yet"
        return 0
    fi
    "$TEST_VENV/bin/python" -m pytest tests/python -q
    local rc=$?
    ((rc == 5)) && { echo "pytest collected no tests"; return 0; }
    return $rc
}

step "install test services" bash tests/services/install.sh
if [[ " ${failed[*]-} " == *" install test services "* ]]; then
    echo "install failed; cannot run tests" >&2
    exit 1
fi
# shellcheck source=/dev/null
source tests/services/env.sh

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --all-targets --locked -- -D warnings
# Not --all-targets: that would run the criterion benches (once each, in test
# mode). Clippy above already compiles the benches. --no-fail-fast: one failing
# test binary must not hide the others' results.
step "cargo test" cargo test --lib --bins --tests --examples --locked --no-fail-fast
step "cargo test --doc" cargo test --doc --locked
step "pytest" run_pytest

printf '\n===== summary =====\n'
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    printf 'failed: %s\n' "${failed[*]}"
    exit 1
fi
echo "all steps passed"
