#!/usr/bin/env bash
# A single-node Garage (S3-compatible) on loopback for the S3 tests.
#
#   source scripts/garage.sh && garage_start   # installs if needed, starts,
#                                              # exports PXHUB_TEST_S3_*
#   garage_stop
#
# Pinned: Garage 2.5.0, built with `cargo install` into the default cargo
# root, so later runs on the same machine skip the build (~10 min on 2 cores).

GARAGE_VERSION=2.5.0
GARAGE_DIR=${GARAGE_DIR:-$PWD/target/garage}
# Below the kernel's ephemeral range (32768-60999): a port in it can be
# taken by an outgoing connection (or a probe connected to itself) before
# Garage binds it.
GARAGE_S3_PORT=${GARAGE_S3_PORT:-29900}
GARAGE_RPC_PORT=${GARAGE_RPC_PORT:-29901}
GARAGE_ADMIN_PORT=${GARAGE_ADMIN_PORT:-29903}
GARAGE_BUCKET=pxhub-test
# Fixed test credentials (Garage's formats: GK + 24 hex, 64 hex); loopback only.
GARAGE_KEY_ID=GK0123456789abcdef01234567
GARAGE_SECRET=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

garage_bin() {
    local bin
    # type -P: the executable on PATH, never the `garage` function below.
    bin=$(type -P garage || true)
    [ -n "$bin" ] || bin="${CARGO_HOME:-$HOME/.cargo}/bin/garage"
    echo "$bin"
}

garage_install() {
    local bin
    bin=$(garage_bin)
    if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$GARAGE_VERSION"; then
        return 0
    fi
    echo "Installing Garage $GARAGE_VERSION (once per machine; about 10 minutes)…" >&2
    cargo install garage --version "$GARAGE_VERSION" --locked >&2
}

garage() {
    "$(garage_bin)" -c "$GARAGE_DIR/garage.toml" "$@"
}

garage_start() {
    garage_install || return 1
    garage_stop
    rm -rf "$GARAGE_DIR"
    mkdir -p "$GARAGE_DIR/meta" "$GARAGE_DIR/data"
    cat > "$GARAGE_DIR/garage.toml" <<TOML
metadata_dir = "$GARAGE_DIR/meta"
data_dir = "$GARAGE_DIR/data"
db_engine = "sqlite"
replication_factor = 1
# Programs are compressed audio and video already: zstd on them costs CPU
# and saves nothing.
compression_level = "none"
rpc_bind_addr = "127.0.0.1:$GARAGE_RPC_PORT"
rpc_public_addr = "127.0.0.1:$GARAGE_RPC_PORT"
rpc_secret = "$(printf '%064d' 7)"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$GARAGE_S3_PORT"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$GARAGE_ADMIN_PORT"
TOML
    "$(garage_bin)" -c "$GARAGE_DIR/garage.toml" server > "$GARAGE_DIR/garage.log" 2>&1 &
    echo $! > "$GARAGE_DIR/pid"
    local node="" i
    for i in $(seq 1 100); do
        node=$(garage node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$node" ] && break
        sleep 0.2
    done
    # `node id` reads the key from disk; wait until the daemon answers on RPC
    # too, or the layout commands below race its start.
    local up=""
    for i in $(seq 1 150); do
        [ -n "$node" ] && garage status > /dev/null 2>&1 && up=1 && break
        sleep 0.2
    done
    if [ -z "$up" ]; then
        echo "Garage did not start; its log:" >&2
        cat "$GARAGE_DIR/garage.log" >&2
        return 1
    fi
    garage layout assign -z dc1 -c 1G "$node" > /dev/null
    garage layout apply --version 1 > /dev/null
    garage bucket create "$GARAGE_BUCKET" > /dev/null
    garage key import --yes -n pxhub-test "$GARAGE_KEY_ID" "$GARAGE_SECRET" > /dev/null
    garage bucket allow --read --write --owner "$GARAGE_BUCKET" --key pxhub-test > /dev/null
    # A second bucket: a station's own, which push delivery writes into.
    garage bucket create "$GARAGE_BUCKET-station" > /dev/null
    garage bucket allow --read --write --owner "$GARAGE_BUCKET-station" --key pxhub-test > /dev/null
    # Wait until the S3 API answers.
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$GARAGE_S3_PORT") 2>/dev/null && break
        sleep 0.2
    done
    export PXHUB_TEST_S3_ENDPOINT="http://127.0.0.1:$GARAGE_S3_PORT"
    export PXHUB_TEST_S3_BUCKET=$GARAGE_BUCKET
    export PXHUB_TEST_S3_STATION_BUCKET=$GARAGE_BUCKET-station
    export PXHUB_TEST_S3_REGION=garage
    export PXHUB_TEST_S3_ACCESS_KEY_ID=$GARAGE_KEY_ID
    export PXHUB_TEST_S3_SECRET_ACCESS_KEY=$GARAGE_SECRET
    echo "Garage $GARAGE_VERSION on $PXHUB_TEST_S3_ENDPOINT, bucket $GARAGE_BUCKET" >&2
}

garage_stop() {
    if [ -f "$GARAGE_DIR/pid" ]; then
        kill "$(cat "$GARAGE_DIR/pid")" 2>/dev/null || true
        rm -f "$GARAGE_DIR/pid"
    fi
}
