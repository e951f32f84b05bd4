#!/usr/bin/env bash
# CPU cost of uploads through a local-store hub, independent of machine load:
# CPU seconds the server, the curl clients and dd spend per GB.
#
#   scripts/profile-upload.sh [SIZE_MIB=512] [PARALLEL=4] [strace|perf]
#
# Builds nothing: run `cargo bench --bench media --no-run` (or cargo build
# --release) first. With `strace` (`perf`), also prints `strace -c -f` (a `perf` profile)
# of the server for one upload. Everything lives in target/bench-profile and is removed.
set -euo pipefail
SIZE_MIB=${1:-512}
PAR=${2:-4}
MODE=${3:-}
cd "$(dirname "$0")/.."
BIN=target/release/pxhub
DIR=$PWD/target/bench-profile
rm -rf "$DIR"; mkdir -p "$DIR"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT

cpu() { # utime+stime of a pid, in clock ticks
    awk '{print $14+$15}' "/proc/$1/stat"
}
TCK=$(getconf CLK_TCK)

head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$DIR/src.bin"
$BIN --data-dir "$DIR/hub" station add --id bench --name Bench --province X 2>/dev/null
TOKEN=$($BIN --data-dir "$DIR/hub" token issue --station bench 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env -u PXHUB_STORAGE $BIN --data-dir "$DIR/hub" serve --listen 127.0.0.1:$PORT --log warn > "$DIR/server.log" 2>&1 &
SERVER=$!; PIDS+=($SERVER)
for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:$PORT/readyz && break; sleep 0.1; done
AUTH="Authorization: Bearer $TOKEN"
prog() { curl -sS -H "$AUTH" -H 'Content-Type: application/json' \
    --data-binary '{"title":"p","kind":"tv","genre":"news","languages":["vi"]}' \
    http://127.0.0.1:$PORT/api/v1/programs | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
upload() { /usr/bin/time -f "%U %S" -a -o "$DIR/curl.time" curl -sS -o /dev/null -T "$DIR/src.bin" -H "$AUTH" \
    -H 'Content-Type: video/mp4' "http://127.0.0.1:$PORT/api/v1/programs/$1/files/master?filename=x.mp4"; }

IDS=(); for i in $(seq "$PAR"); do IDS+=("$(prog)"); done
sync
before=$(cpu $SERVER); t0=$(date +%s.%N)
UP=(); for id in "${IDS[@]}"; do upload "$id" & UP+=($!); done; wait "${UP[@]}"
t1=$(date +%s.%N); after=$(cpu $SERVER)
GB=$(echo "$SIZE_MIB * $PAR * 1048576 / 1000000000" | bc -l)
hub_s=$(echo "($after - $before) / $TCK" | bc -l)
curl_s=$(awk '{s+=$1+$2} END{print s}' "$DIR/curl.time")
printf 'hub:  %d x %d MiB in %.2f s wall; server CPU %.2f s (%.2f s/GB); curl CPU %.2f s (%.2f s/GB)\n' \
    "$PAR" "$SIZE_MIB" "$(echo "$t1 - $t0" | bc -l)" "$hub_s" "$(echo "$hub_s / $GB" | bc -l)" "$curl_s" "$(echo "$curl_s / $GB" | bc -l)"
sync
t0=$(date +%s.%N)
DD=(); for i in $(seq "$PAR"); do /usr/bin/time -f "%U %S" -a -o "$DIR/dd.time" dd if="$DIR/src.bin" of="$DIR/dd-$i.bin" bs=8M conv=fdatasync status=none & DD+=($!); done; wait "${DD[@]}"
t1=$(date +%s.%N)
dd_s=$(awk '{s+=$1+$2} END{print s}' "$DIR/dd.time")
printf 'dd:   %d x %d MiB in %.2f s wall; dd CPU %.2f s (%.2f s/GB)\n' \
    "$PAR" "$SIZE_MIB" "$(echo "$t1 - $t0" | bc -l)" "$dd_s" "$(echo "$dd_s / $GB" | bc -l)"
grep -v '^$' "$DIR/server.log" | head -5 || true

if [ "$MODE" = perf ]; then
    id=$(prog)
    perf record -q -g -p $SERVER -o "$DIR/perf.data" 2>/dev/null & PF=$!; sleep 0.5
    upload "$id"
    kill -INT $PF; wait $PF 2>/dev/null || true
    perf report -q -i "$DIR/perf.data" --no-children --sort symbol 2>/dev/null | grep -v '^$' | grep '%' | head -15
fi
if [ "$MODE" = strace ]; then
    id=$(prog)
    strace -c -f -p $SERVER -o "$DIR/strace.txt" & ST=$!; sleep 0.5
    upload "$id"
    kill -INT $ST; wait $ST 2>/dev/null || true
    head -15 "$DIR/strace.txt"
fi
