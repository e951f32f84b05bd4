#!/usr/bin/env bash
# The Debian package, built and checked the way a station's technician
# would meet it: `cargo deb` (crate cargo-deb, pinned, installed when
# missing) packages the binary that `cargo test` already built (no second
# build: `--no-build --profile dev`), lintian (Debian's, pinned, installed
# when missing) must find no error, and then, as root, the package is
# installed on this machine, checked, removed, installed again and purged:
# the binary runs as the pxhub user, the shipped settings file parses and
# the hub serves with it, remove keeps the settings and the data, purge
# leaves /etc, /usr and /var/lib as they were before the install.
#
# scripts/test.sh runs it after `cargo test`; alone: `cargo build --locked
# && scripts/package.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
LINTIAN_VERSION=2.116.3+deb12u1
BIN=target/debug/pxhub

say() { echo "package: $*" >&2; }
fail() { echo "package: FAILED: $*" >&2; exit 1; }

source scripts/apt.sh

[ -x "$BIN" ] || fail "$BIN is missing: run cargo build (or cargo test) first"

if [ "$(cargo deb --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DEB_VERSION" ]; then
    say "installing cargo-deb $CARGO_DEB_VERSION…"
    cargo install --quiet cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi
if ! command -v lintian >/dev/null; then
    apt_install "lintian=$LINTIAN_VERSION" || fail "lintian is missing"
fi

# cargo-deb warns that dev builds are not for releases: this package is
# for the test; a release is `cargo deb` alone (a release build). --fast:
# xz's quick level (6 s instead of 30 s here; the file is a little larger).
rm -rf target/debian
DEB=$(cargo deb --no-build --profile dev --fast --quiet 2>target/cargo-deb.log | tail -n 1) || true
[ -f "$DEB" ] || { cat target/cargo-deb.log >&2; fail "cargo deb made no package"; }
say "built $DEB ($(du -h "$DEB" | cut -f1))"

# Errors fail; warnings are printed.
lintian --fail-on error --suppress-tags-from-file /dev/null "$DEB" >&2 || fail "lintian found errors in $DEB"
say "lintian: no error"

if [ "$(id -u)" != 0 ]; then
    say "not root: the install check is left out (CI and the developers' machines run it)"
    exit 0
fi
if dpkg-query -W -f='${Status}' pxhub 2>/dev/null | grep -q installed \
    || getent passwd pxhub >/dev/null || [ -e /etc/pxhub ] || [ -e /var/lib/pxhub ]; then
    fail "this machine already has a pxhub install (package, user, /etc/pxhub or /var/lib/pxhub); the check installs and purges its own"
fi

# What /etc, /usr and /var/lib hold (dpkg's and apt's own books aside), to
# compare with after the purge.
tree_now() {
    find /etc /usr /var/lib -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt \) -prune -o -print 2>/dev/null | sort
}
BEFORE=$(mktemp) AFTER=$(mktemp) LOG=$(mktemp)
# Whatever happens, the machine is left without the package.
cleanup() {
    if dpkg-query -W -f='${Status}' pxhub 2>/dev/null | grep -q 'ok'; then
        dpkg --purge pxhub > /dev/null 2>&1 || true
    fi
    rm -f "$BEFORE" "$AFTER" "$LOG"
}
trap cleanup EXIT
tree_now > "$BEFORE"

owner_mode() { stat -c '%U:%G %a' "$1"; }

# The hub as the systemd unit runs it (user, variables), until /readyz
# answers; then stopped. $1: what it must say it uses.
serve_once() {
    : > "$LOG"
    runuser -u pxhub -- env PXHUB_CONFIG=/etc/pxhub/pxhub.toml /usr/bin/pxhub serve \
        --listen 127.0.0.1:0 --analysis-workers 0 2> "$LOG" &
    local pid=$! addr="" i
    for i in $(seq 1 100); do
        addr=$(grep -oE 'address=127\.0\.0\.1:[0-9]+' "$LOG" | head -n 1 | cut -d= -f2) || true
        [ -n "$addr" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$addr" ] || { cat "$LOG" >&2; fail "the installed hub did not start"; }
    curl -fsS "http://$addr/readyz" > /dev/null || fail "the installed hub is not ready"
    kill "$pid"; wait "$pid" || true
    grep -q "data_dir=/var/lib/pxhub" "$LOG" || { cat "$LOG" >&2; fail "the hub did not use /var/lib/pxhub"; }
    if grep -q $'\e' "$LOG"; then fail "colour codes in a log that is not a terminal"; fi
}

say "installing on this machine (purged at the end)"
dpkg -i "$DEB" > /dev/null

[ "$(/usr/bin/pxhub --version)" = "pxhub $(cargo metadata --no-deps --format-version 1 --locked | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')" ] \
    || fail "pxhub --version"
uid=$(id -u pxhub)
[ "$uid" -lt 1000 ] || fail "pxhub is not a system user (uid $uid)"
[ "$(getent passwd pxhub | cut -d: -f6)" = /var/lib/pxhub ] || fail "pxhub's home is not /var/lib/pxhub"
[ "$(owner_mode /var/lib/pxhub)" = "pxhub:pxhub 750" ] || fail "/var/lib/pxhub is $(owner_mode /var/lib/pxhub)"
[ "$(owner_mode /etc/pxhub/pxhub.toml)" = "root:pxhub 640" ] || fail "/etc/pxhub/pxhub.toml is $(owner_mode /etc/pxhub/pxhub.toml)"
dpkg-query -W -f='${Conffiles}\n' pxhub | grep -q ' /etc/pxhub/pxhub.toml ' || fail "pxhub.toml is not a conffile"
for unit in pxhub.service pxhub-litestream.service pxhub-pull@.service; do
    [ -f "/usr/lib/systemd/system/$unit" ] || [ -f "/lib/systemd/system/$unit" ] || fail "$unit is not installed"
done
[ -L /etc/systemd/system/multi-user.target.wants/pxhub.service ] || fail "pxhub.service is not enabled"
if command -v systemd-analyze >/dev/null; then
    # Litestream is the operator's to install: only its absence may be said.
    out=$(systemd-analyze verify pxhub.service pxhub-pull@x.service 2>&1) || { echo "$out" >&2; fail "systemd-analyze verify"; }
fi

# The shipped settings parse, and the hub serves with them as pxhub.
serve_once
[ "$(stat -c %U:%G /var/lib/pxhub/catalog.db)" = pxhub:pxhub ] || fail "catalog.db is not pxhub's"
runuser -u pxhub -- env PXHUB_CONFIG=/etc/pxhub/pxhub.toml /usr/bin/pxhub station add \
    --id cao-bang --name "Đài PT-TH Cao Bằng" --province "Cao Bằng" 2>/dev/null || fail "pxhub station add as pxhub"
runuser -u pxhub -- /usr/bin/pxhub scrub --config /etc/pxhub/pxhub.toml 2>/dev/null || fail "pxhub scrub with the shipped settings"
# A settings file that does not parse is refused, naming the key.
if out=$(runuser -u pxhub -- /usr/bin/pxhub scrub --config /etc/pxhub/pxhub.toml --storage nowhere 2>&1); then
    fail "a bad setting was taken"
fi

# remove: the program goes, the settings (as the technician edited them)
# and the data stay.
sed -i 's/^#max_json_bytes = .*/max_json_bytes = 2097152/' /etc/pxhub/pxhub.toml
dpkg -r pxhub > /dev/null
[ ! -e /usr/bin/pxhub ] || fail "remove left /usr/bin/pxhub"
grep -q '^max_json_bytes = 2097152' /etc/pxhub/pxhub.toml || fail "remove lost the edited settings"
[ -s /var/lib/pxhub/catalog.db ] || fail "remove lost the catalog"
getent passwd pxhub >/dev/null || fail "remove took the pxhub user"

# Installed again (as an upgrade would): the edited settings are kept, the
# data too.
dpkg -i "$DEB" > /dev/null
grep -q '^max_json_bytes = 2097152' /etc/pxhub/pxhub.toml || fail "reinstall replaced the edited settings"
serve_once
runuser -u pxhub -- env PXHUB_CONFIG=/etc/pxhub/pxhub.toml /usr/bin/pxhub station add \
    --id cao-bang --name "Đài PT-TH Cao Bằng" --province "Cao Bằng" 2>/dev/null \
    && fail "the station added before the reinstall was lost"

# purge: nothing of the install is left.
dpkg --purge pxhub > /dev/null
getent passwd pxhub >/dev/null && fail "purge left the pxhub user"
getent group pxhub >/dev/null && fail "purge left the pxhub group"
tree_now > "$AFTER"
if ! diff -u "$BEFORE" "$AFTER" >&2; then
    fail "purge left these differences in /etc, /usr, /var/lib (above)"
fi
say "installed, served, removed, reinstalled and purged: nothing left"
