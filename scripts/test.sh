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
export PXHUB_REQUIRE_S3=1

cargo test --locked "$@"
