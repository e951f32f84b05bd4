#!/usr/bin/env bash
# Every benchmark in one command, one table.
#
#   scripts/bench.sh all          # full sizes (about 30-40 minutes on 2 cores,
#                                 # 11 of them the soak's sustained load)
#   scripts/bench.sh --quick      # small sizes, seconds per bench (for CI)
#
# Options (after the mode): --dev builds with the dev profile instead of
# release (the test suite does, to reuse the `cargo test` build: figures are
# then meaningless, only the run and its output are checked); --no-rustus
# skips the rustus baseline of the tus bench (its row says SKIPPED);
# --only media,tus,search,load,faults,pull,render picks benches; --search-sizes 100000 runs the
# search bench at those catalog sizes only (its 1M catalog takes about 20
# minutes to generate on 2 cores the first time).
#
# Installs what the benches need, pinned and only when missing: nginx, wrk and
# nftables
# (apt, Debian bookworm's versions), rustus (cargo install --locked, into the
# default cargo root, once per machine: a few minutes), Garage (scripts/garage.sh),
# Chromium and the Python venv with Playwright and tuspy (scripts/pyenv.sh).
# Each bench's table goes to target/bench-results/<bench>.md and its progress to
# target/bench-results/<bench>.log; the combined table to target/bench-results/results.md.
# Exits non-zero when a bench failed or reported a correctness problem, or
# its table could not be read; a figure that misses its target does not fail.
set -euo pipefail
cd "$(dirname "$0")/.."

RUSTUS_VERSION=0.5.10
WRK_VERSION=4.1.0-3+b2
NFTABLES_VERSION=1.0.6-2+deb12u2
MODE=
PROFILE=release
RUSTUS=1
ONLY=media,tus,search,load,faults,pull,web,analysis,soak,peers,render,push
SEARCH_SIZES=
while [ $# -gt 0 ]; do
    case "$1" in
        all) MODE=all ;;
        --quick|quick) MODE=quick ;;
        --dev) PROFILE=dev ;;
        --no-rustus) RUSTUS=0 ;;
        --only) ONLY=$2; shift ;;
        --search-sizes) SEARCH_SIZES=$2; shift ;;
        *) echo "usage: scripts/bench.sh all|--quick [--dev] [--no-rustus] [--only media,tus,search,load,faults,pull,web,analysis,soak,peers,render,push] [--search-sizes N,…]" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$MODE" ] || { echo "usage: scripts/bench.sh all|--quick [--dev] [--no-rustus] [--only …]" >&2; exit 2; }
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

# ---- what the benches need
source scripts/apt.sh
if wants media && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    apt_install nginx
fi
if wants load && ! dpkg-query -W -f='${Version}' wrk 2>/dev/null | grep -qx "$WRK_VERSION"; then
    apt_install "wrk=$WRK_VERSION"
fi
RUSTUS_BIN=${CARGO_HOME:-$HOME/.cargo}/bin/rustus
if wants tus && [ "$RUSTUS" = 1 ] && ! "$RUSTUS_BIN" --version 2>/dev/null | grep -q "$RUSTUS_VERSION"; then
    echo "installing rustus $RUSTUS_VERSION (once per machine; a few minutes)…" >&2
    cargo install rustus --version "$RUSTUS_VERSION" --locked >&2
fi
if { wants analysis || wants faults || wants render; } && ! command -v ffmpeg >/dev/null; then
    apt_install "ffmpeg=7:5.1.9-0+deb12u1"
fi
# The pull bench's lossy link: tc netem where the kernel has sch_netem,
# otherwise an nftables rule (in a namespace the bench makes; root only).
if wants pull && [ "$(id -u)" = 0 ] && ! dpkg-query -W -f='${Version}' nftables 2>/dev/null | grep -qx "$NFTABLES_VERSION"; then
    apt_install "nftables=$NFTABLES_VERSION"
fi
# The web bench uploads through the page in Debian's Chromium driven by
# Playwright, against tuspy: the test command's venv (scripts/pyenv.sh).
if wants web || wants push; then
    # shellcheck source=scripts/pyenv.sh
    source scripts/pyenv.sh
    pyenv_install
    if wants web; then chromium_install; fi
    export PXHUB_BENCH_PYTHON="$PWD/$PY_ENV/bin/python"
fi
if wants media || wants faults; then
    # Installs Garage if needed (the media and faults benches start their own).
    (source scripts/garage.sh && garage_install)
fi

# ---- the runs
OUT=target/bench-results
mkdir -p "$OUT"
PROFILE_ARGS=()
[ "$PROFILE" = dev ] && PROFILE_ARGS=(--profile dev)
quick() { [ "$MODE" = quick ]; }
BENCHES=()
for b in media tus search load faults pull web analysis soak peers render push; do wants "$b" && BENCHES+=("$b"); done
args_of() {
    case "$1" in
        media) if quick; then echo --quick; fi ;;
        tus) { quick && echo --quick; [ "$RUSTUS" = 0 ] && echo --no-rustus; } | xargs ;;
        search) if quick; then echo --sizes "${SEARCH_SIZES:-10000}" --queries 20
                elif [ -n "$SEARCH_SIZES" ]; then echo --sizes "$SEARCH_SIZES"; fi ;;
        load) if quick; then echo --quick; fi ;;
        faults) if quick; then echo --quick; fi ;;
        pull) if quick; then echo --quick; fi ;;
        web) if quick; then echo --quick; fi ;;
        analysis) if quick; then echo --quick; fi ;;
        soak) if quick; then echo --quick; fi ;;
        peers) if quick; then echo --quick; fi ;;
        render) if quick; then echo --quick; fi ;;
        push) if quick; then echo --quick; fi ;;
    esac
}
# One build for the whole run: the bench executables are run directly, so
# a source file changed meanwhile does not rebuild anything half-way.
echo "building ($PROFILE)…" >&2
# shellcheck disable=SC2046
cargo bench --locked "${PROFILE_ARGS[@]}" --no-run $(for b in "${BENCHES[@]}"; do echo --bench "$b"; done) \
    > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; echo "scripts/bench.sh: the build failed" >&2; exit 1; }
exe_of() { # the executable cargo built for benches/$1.rs
    sed -nE "s|^ *Executable benches/$1\.rs \(([^)]+)\)$|\1|p" "$OUT/build.log" | tail -1
}
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
T0=$(date +%s)
STATUS=()
for b in "${BENCHES[@]}"; do
    # shellcheck disable=SC2046
    set -- $(args_of "$b")
    exe=$(exe_of "$b")
    echo "== $b $* ($exe) ==" >&2
    t=$(date +%s)
    rc=0
    if [ -z "$exe" ]; then
        echo "no executable for benches/$b.rs in $OUT/build.log" > "$OUT/$b.log"; : > "$OUT/$b.md"; rc=127
    else
        "$exe" "$@" > "$OUT/$b.md" 2> "$OUT/$b.log" || rc=$?
    fi
    echo "   $b: exit $rc, $(( $(date +%s) - t )) s (progress in $OUT/$b.log)" >&2
    STATUS+=("$b=$rc=$(( $(date +%s) - t ))=$*")
done

python3 - "$OUT" "$MODE" "$PROFILE" "$STARTED" "$(( $(date +%s) - T0 ))" "${STATUS[@]}" <<'PY'
import re, sys, os, platform
out, mode, profile, started, total, *status = sys.argv[1:]
rows, errors = [], []

def table(text):
    lines = [l for l in text.splitlines() if l.startswith("|")]
    if len(lines) < 3:
        return None
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return head, [[c.strip() for c in l.strip("|").split("|")] for l in lines[2:]]

for s in status:
    name, rc, secs, args = s.split("=", 3)
    path = os.path.join(out, name + ".md")
    text = open(path).read() if os.path.exists(path) else ""
    if rc != "0":
        errors.append(f"{name}: exited {rc} (see {out}/{name}.log)")
        for l in text.splitlines():
            if l.startswith("- "):
                errors.append(f"{name}: {l[2:]}")
    t = table(text)
    if t is None:
        errors.append(f"{name}: no result table in {path}")
        continue
    head, body = t
    if name == "search":
        # | N | query | matches | p50 | p95 | p99 | p50 ÷ base | p95 ÷ base | target p95 | result |
        if len(head) != 10 or "p95 ms" not in head:
            errors.append(f"search: unexpected columns {head}")
            continue
        base = None
        for r in body:
            if len(r) != 10:
                errors.append(f"search: unreadable row {r}"); continue
            if r[9] in ("–", "-"):
                base = r
                continue
            if base is None:
                errors.append("search: no baseline row"); continue
            try:
                ratio = float(r[4]) / float(base[4])
            except ValueError:
                errors.append(f"search: unreadable p95 in {r}"); continue
            rows.append((name, f"Search N={r[0]}: {r[1]}, p95 (vs {base[1]} p95)", f"{r[4]} ms",
                         f"{base[4]} ms", f"{ratio:.0f}", r[8], r[9]))
        if not any(r[0] == "search" for r in rows):
            errors.append("search: no measured query")
        continue
    if head[:6] != ["Scenario", "Hub", "Baseline", "Hub / baseline", "Target", "Result"]:
        errors.append(f"{name}: unexpected columns {head}"); continue
    n = 0
    for r in body:
        # A row for reference (no target, Result "–") still needs its ratio.
        if len(r) != 6 or not re.match(r"^(PASS|MISS|SKIPPED|–$)", r[5]):
            errors.append(f"{name}: unreadable row {r}"); continue
        if not r[5].startswith("SKIPPED"):
            try:
                float(r[3])
            except ValueError:
                errors.append(f"{name}: no ratio in {r}"); continue
        rows.append((name, *r)); n += 1
    if n == 0:
        errors.append(f"{name}: empty table")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) // 1024 // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
load = open("/proc/loadavg").read().split()[:3]
lines = [
    f"scripts/bench.sh {'all' if mode == 'all' else '--quick'} ({profile} profile), started {started}, took {total} s; "
    f"{os.cpu_count()} CPUs ({cpu}), {mem} GiB RAM, Linux {platform.release()}, load average at the end {' '.join(load)}.",
    "",
    "| Bench | Scenario | Figure | Baseline (same run) | Ratio | Target | Result |",
    "|---|---|---:|---:|---:|---|---|",
]
for r in rows:
    lines.append("| " + " | ".join(r) + " |")
lines.append("")
for s in status:
    name, rc, secs, args = s.split("=", 3)
    prof = " --profile dev" if profile == "dev" else ""
    lines.append(f"- {name}: `cargo bench{prof} --bench {name}{' -- ' + args if args else ''}`, exit {rc}, {secs} s")
if errors:
    lines.append("")
    lines.append("Problems:")
    lines += [f"- {e}" for e in errors]
text = "\n".join(lines) + "\n"
open(os.path.join(out, "results.md"), "w").write(text)
print(text)
sys.exit(1 if errors else 0)
PY
