#!/usr/bin/env bash
# The whole test suite, on a fresh machine or an old one: installs what the
# tests need (pinned, idempotent), starts it, runs every test, stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked "$@"
