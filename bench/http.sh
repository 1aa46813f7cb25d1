#!/usr/bin/env bash
# The HTTP comparison: keygate against three baselines, alternated, with medians and ratios.
#
#   bench/http.sh                       build everything in release, then measure every pair
#   BLOCKS=1 DURATION=2s ONLY="towerhttp example" bench/http.sh      one pair, quickly
#
# Servers (bench/README.md says what each one is): baselines axum-bare, towerhttp, handrolled;
# keygate servers keygate (bench/keygate-server) and example (the example service, GET /items).
# For each pair (baseline, keygate server) it runs A B B A blocks: each step starts the server
# pinned to core $SERVER_CPU, checks that it answers correctly (it stops if not), warms it up,
# then measures each scenario with `wrk -t$THREADS -c$CONNS -d$DURATION` pinned to core
# $CLIENT_CPU, and stops the server. Scenarios: valid (a valid key), malformed (a key-shaped
# string with a wrong checksum), unknown (well-formed keys with valid checksums and ids no store
# holds, $UNKNOWN_KEYS of them in turn), missing (no key).
#
# Env: BLOCKS=3 DURATION=5s WARMUP=2s CONNS=64 THREADS=1 SERVER_CPU=0 CLIENT_CPU=1
#      BASE_PORT=18080 UNKNOWN_KEYS=1000 SKIP_BUILD=1 (reuse the last build)
#      ONLY="..."       server names; keeps the pairs whose baseline is listed (or no baseline
#                       is listed) and whose keygate server is listed (or none is listed)
#      SCENARIOS="valid malformed unknown missing"
#      BENCH_OUT        results folder (default: target/bench-http in the repository)
#      KEYGATE_PEPPER   passed to both keygate servers (unset: plain SHA-256, like handrolled)
# Prints a Markdown table; raw rows go to $BENCH_OUT/http-<run>.csv (and http.csv, the latest).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
BLOCKS="${BLOCKS:-3}"
DURATION="${DURATION:-5s}"
WARMUP="${WARMUP:-2s}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-1}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
BASE_PORT="${BASE_PORT:-18080}"
UNKNOWN_KEYS="${UNKNOWN_KEYS:-1000}"
ONLY="${ONLY:-}"
SCENARIOS="${SCENARIOS:-valid malformed unknown missing}"
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    TARGET_ROOT="$(realpath -m "$CARGO_TARGET_DIR")"; TARGET_BENCH="$TARGET_ROOT"
else
    TARGET_ROOT="$ROOT/target"; TARGET_BENCH="$BENCH_DIR/target"
fi
OUT="$(realpath -m "${BENCH_OUT:-$TARGET_ROOT/bench-http}")"
RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)"
RUN="$OUT/$RUN_ID"          # server logs, wrk logs, key files of this run
CSV="$OUT/http-$RUN_ID.csv"
BASELINES=(axum-bare towerhttp handrolled)
CONTENDERS=(keygate example)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
listed() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
any_listed() { local n; for n in "$@"; do [[ " $ONLY " == *" $n "* ]] && return 0; done; return 1; }

for s in $SCENARIOS; do
    case "$s" in valid|malformed|unknown|missing) ;; *) die "unknown scenario '$s' in SCENARIOS" ;; esac
done
for n in $ONLY; do
    [[ " ${BASELINES[*]} ${CONTENDERS[*]} " == *" $n "* ]] \
        || die "ONLY: no server '$n' (servers: ${BASELINES[*]} ${CONTENDERS[*]})"
done
PAIRS=()
for c in "${CONTENDERS[@]}"; do
    any_listed "${CONTENDERS[@]}" && ! listed "$c" && continue
    for b in "${BASELINES[@]}"; do
        any_listed "${BASELINES[@]}" && ! listed "$b" && continue
        PAIRS+=("$b:$c")
    done
done
[ ${#PAIRS[@]} -gt 0 ] || die "ONLY=\"$ONLY\" selects no pair"

# ---------------------------------------------------------------- tools and build
for tool in taskset curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found (taskset: util-linux)"
done
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing wrk with apt-get"
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    fi
    command -v wrk >/dev/null || die "wrk not found: install it (Debian/Ubuntu: apt-get install wrk)"
fi
[ "$(nproc)" -ge 2 ] || die "needs two cores: the server on one, the load generator on the other"

if [ -z "${SKIP_BUILD:-}" ]; then
    log "building the servers (bench/) and the example in release"
    cargo build --release --quiet --manifest-path "$BENCH_DIR/Cargo.toml" \
        --target-dir "$TARGET_BENCH"
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --target-dir "$TARGET_ROOT" \
        -p keygate-example
fi
BIN="$TARGET_BENCH/release"
EXAMPLE="$TARGET_ROOT/release/keygate-example"
needed=("$BIN/keygate-server")
for pair in "${PAIRS[@]}"; do
    for n in "${pair%%:*}" "${pair##*:}"; do
        case "$n" in keygate) ;; example) needed+=("$EXAMPLE") ;; *) needed+=("$BIN/$n") ;; esac
    done
done
for b in "${needed[@]}"; do [ -x "$b" ] || die "$b is missing: run without SKIP_BUILD"; done
mkdir -p "$RUN"

# ---------------------------------------------------------------- servers
SERVER_PID=""
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SERVER_PID" 2>/dev/null && { log "  $SERVER_PID ignored SIGTERM; killing it"; kill -KILL "$SERVER_PID"; }
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# Sets, for server $1: PORT URL HEADER VALUE_PREFIX REJECT (status of a refusal) and starts it;
# then VALID (the key it accepts) and NOREAD_CHECK (curl arguments that must get a 403).
start_server() {
    local name=$1 log_file=$2 i
    HEADER=X-API-Key VALUE_PREFIX="" REJECT=401 NOREAD_CHECK=() HEALTH=/health
    VALID="$(bench_key)" NOREAD="$(bench_key)"
    local -a cmd
    case "$name" in
        axum-bare) PORT=$BASE_PORT; REJECT=200; cmd=("$BIN/axum-bare") ;;
        towerhttp) PORT=$((BASE_PORT + 1)); HEADER=Authorization; VALUE_PREFIX="Bearer "
                   cmd=("$BIN/towerhttp") ;;
        handrolled) PORT=$((BASE_PORT + 2)); cmd=("$BIN/handrolled") ;;
        keygate) PORT=$((BASE_PORT + 3)); cmd=("$BIN/keygate-server") ;;
        example) PORT=$((BASE_PORT + 4))
                 cmd=(env -u KEYGATE_REDIS_URL -u KEYGATE_TLS_CERT -u KEYGATE_TLS_KEY
                      KEYGATE_DATABASE_URL=sqlite::memory: KEYGATE_ADDR="127.0.0.1:$PORT"
                      RUST_LOG=warn "$EXAMPLE") ;;
    esac
    URL="http://127.0.0.1:$PORT/secure"
    [ "$name" = example ] && URL="http://127.0.0.1:$PORT/items"
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT$HEALTH" \
        && die "something already answers on 127.0.0.1:$PORT; refusing to measure it"
    # taskset and env exec the server, so $! is the server's own process.
    PORT=$PORT VALID_KEY="$VALID" NOREAD_KEY="$NOREAD" \
        taskset -c "$SERVER_CPU" "${cmd[@]}" >"$log_file" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 300); do
        curl -s -o /dev/null -f -m 1 "http://127.0.0.1:$PORT$HEALTH" && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log_file" >&2; die "$name exited during start-up"; }
        [ "$i" -lt 300 ] || die "$name: no 200 from $HEALTH within 30 s"
        sleep 0.1
    done
    case "$name" in
        handrolled) NOREAD_CHECK=(-H "X-API-Key: $NOREAD" "$URL") ;;
        keygate|example)
            VALID="$(sed -nE 's/^export KEYGATE_READ_KEY=([A-Za-z0-9_]+)( .*)?$/\1/p' "$log_file" | head -n1)"
            [ -n "$VALID" ] || die "$name printed no KEYGATE_READ_KEY line (see $log_file)"
            if [ "$name" = keygate ]; then
                NOREAD="$(sed -nE 's/^export KEYGATE_NOREAD_KEY=([A-Za-z0-9_]+)$/\1/p' "$log_file" | head -n1)"
                NOREAD_CHECK=(-H "X-API-Key: $NOREAD" "$URL")
            else  # the example's read key lacks `admin`, which DELETE /items/{id} requires
                NOREAD_CHECK=(-X DELETE -H "X-API-Key: $VALID" "http://127.0.0.1:$PORT/items/1")
            fi ;;
    esac
}

bench_key() { echo "ak_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }

# Stops the run unless `curl ARGS...` gets status $1.
expect_status() {
    local want=$1 what=$2; shift 2
    local got; got="$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$@")"
    [ "$got" = "$want" ] || die "$CURRENT: $what answered $got, expected $want"
}

check_server() {
    local name=$1
    expect_status 200 "a valid key" -H "$HEADER: $VALUE_PREFIX$VALID" "$URL"
    if [ "$name" != example ]; then
        local body; body="$(curl -s -m 5 -H "$HEADER: $VALUE_PREFIX$VALID" "$URL")"
        [ "$body" = '{"message":"ok"}' ] || die "$name: body $body, expected {\"message\":\"ok\"}"
    fi
    expect_status "$REJECT" "a malformed key" -H "$HEADER: $VALUE_PREFIX$MALFORMED" "$URL"
    expect_status "$REJECT" "an unknown key" -H "$HEADER: $VALUE_PREFIX$(head -n1 "$UNKNOWN_FILE")" "$URL"
    expect_status "$REJECT" "no key" "$URL"
    [ ${#NOREAD_CHECK[@]} -eq 0 ] || expect_status 403 "a key without the scope" "${NOREAD_CHECK[@]}"
}

# ---------------------------------------------------------------- measuring
proc_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$SERVER_PID/stat"; }
core_line() { grep "^cpu$1 " /proc/stat; }

# measure PAIR BLOCK STEP SERVER ROLE SCENARIO: one wrk run, one CSV row; stops the run when a
# response is not what the scenario expects.
measure() {
    local pair=$1 block=$2 step=$3 server=$4 role=$5 scenario=$6
    local expect=$REJECT wrk_log="$RUN/${pair/:/-vs-}-$block-$step-$server-$scenario.wrk.log"
    local -a args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency)
    case "$scenario" in
        valid) expect=200; args+=(-H "$HEADER: $VALUE_PREFIX$VALID") ;;
        malformed) args+=(-H "$HEADER: $VALUE_PREFIX$MALFORMED") ;;
        unknown) args+=(-s "$BENCH_DIR/keys.lua") ;;
        missing) ;;
    esac
    local t0 t1 srv0 srv1 cli0 cli1
    srv0="$(core_line "$SERVER_CPU")"; cli0="$(core_line "$CLIENT_CPU")"; t0="$(proc_ticks)"
    BENCH_KEYS_FILE="$UNKNOWN_FILE" BENCH_HEADER="$HEADER" BENCH_VALUE_PREFIX="$VALUE_PREFIX" \
        taskset -c "$CLIENT_CPU" wrk "${args[@]}" "$URL" >"$wrk_log" 2>&1 \
        || { cat "$wrk_log" >&2; die "wrk failed"; }
    kill -0 "$SERVER_PID" 2>/dev/null || die "$CURRENT: the server exited during the $scenario run"
    t1="$(proc_ticks)"; srv1="$(core_line "$SERVER_CPU")"; cli1="$(core_line "$CLIENT_CPU")"
    local requests rps non2xx sockerr
    requests="$(awk '/ requests in /{print $1}' "$wrk_log")"
    rps="$(awk '/^Requests\/sec:/{print $2}' "$wrk_log")"
    non2xx="$(awk -F: '/Non-2xx or 3xx responses/{gsub(/ /, "", $2); print $2}' "$wrk_log")"
    non2xx="${non2xx:-0}"
    sockerr="$(sed -nE 's/.*connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+).*/\1 \2 \3 \4/p' "$wrk_log" \
        | awk '{print $1 + $2 + $3 + $4}')"
    sockerr="${sockerr:-0}"
    [ -n "$requests" ] && [ "$requests" -gt 0 ] || { cat "$wrk_log" >&2; die "$CURRENT: no requests answered"; }
    if [ "$expect" = 200 ] && [ "$non2xx" != 0 ]; then
        die "$CURRENT $scenario: $non2xx of $requests responses were not 2xx (see $wrk_log)"
    elif [ "$expect" != 200 ] && [ "$non2xx" != "$requests" ]; then
        die "$CURRENT $scenario: only $non2xx of $requests responses were refusals (see $wrk_log)"
    fi
    # busy share of a core between two /proc/stat lines: user nice system irq softirq (no idle,
    # iowait, steal); and steal, which says the VM's host took the core away
    local busy='{split(a, x, " "); split(b, y, " "); t = 0; for (i = 2; i <= 9; i++) t += y[i] - x[i];
        u = (y[2]-x[2]) + (y[3]-x[3]) + (y[4]-x[4]) + (y[7]-x[7]) + (y[8]-x[8]);
        printf "%.1f,%.1f", t ? 100 * u / t : 0, t ? 100 * (y[9]-x[9]) / t : 0}'
    local srv_busy cli_busy
    srv_busy="$(awk -v a="$srv0" -v b="$srv1" "BEGIN $busy")"
    cli_busy="$(awk -v a="$cli0" -v b="$cli1" "BEGIN $busy")"
    echo "$RUN_ID,$pair,$block,$step,$server,$role,$scenario,$expect,$requests,$rps,$non2xx,$sockerr,$((t1 - t0)),$(getconf CLK_TCK),$srv_busy,$cli_busy" >>"$CSV"
    log "    $server $scenario: $rps req/s, $(awk -v t=$((t1 - t0)) -v h="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN {printf "%.2f", 1e6 * t / h / n}') us CPU/request"
}

# step PAIR BLOCK STEP SERVER ROLE: one server up, checked, warmed up, measured, stopped.
step() {
    local pair=$1 block=$2 n=$3 server=$4 role=$5 s
    CURRENT="$server (pair $pair, block $block, step $n)"
    start_server "$server" "$RUN/${pair/:/-vs-}-$block-$n-$server.server.log"
    check_server "$server"
    taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" \
        -H "$HEADER: $VALUE_PREFIX$VALID" "$URL" >"$RUN/${pair/:/-vs-}-$block-$n-$server.warmup.log" 2>&1 \
        || die "wrk warm-up failed"
    for s in $SCENARIOS; do measure "$pair" "$block" "$n" "$server" "$role" "$s"; done
    stop_server
}

# ---------------------------------------------------------------- main
echo "run_id,pair,block,step,server,role,scenario,expect,requests,req_per_s,non_2xx,socket_errors,cpu_ticks,clk_tck,server_core_busy_pct,server_core_steal_pct,client_core_busy_pct,client_core_steal_pct" >"$CSV"
nsc=$(wc -w <<<"$SCENARIOS")
secs() { local d=$1; case "$d" in *ms) echo 1 ;; *s) echo "${d%s}" ;; *m) echo $((${d%m} * 60)) ;; *) echo "$d" ;; esac; }
estimate=$(( ${#PAIRS[@]} * BLOCKS * 4 * (nsc * $(secs "$DURATION") + $(secs "$WARMUP") + 2) ))
log "run $RUN_ID: pairs ${PAIRS[*]}; $BLOCKS A B B A blocks; scenarios $SCENARIOS; about $((estimate / 60)) min"
log "wrk -t$THREADS -c$CONNS -d$DURATION (warm-up $WARMUP); server on core $SERVER_CPU, wrk on core $CLIENT_CPU"
log "$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"

for pair in "${PAIRS[@]}"; do
    baseline="${pair%%:*}" contender="${pair##*:}"
    # Both servers of a pair get the same unknown and malformed keys, in the keygate server's
    # format: keygate's own keys, minted into a throwaway store, so no server holds them.
    prefix=bench; [ "$contender" = example ] && prefix=demo
    UNKNOWN_FILE="$RUN/unknown-$prefix.txt"
    [ -s "$UNKNOWN_FILE" ] || "$BIN/keygate-server" unknown-keys "$prefix" "$UNKNOWN_KEYS" >"$UNKNOWN_FILE"
    first="$(head -n1 "$UNKNOWN_FILE")"
    # the same key with its last checksum character changed: refused by the parser
    last="${first: -1}"; swap=A; [ "$last" = A ] && swap=B
    MALFORMED="${first%?}$swap"
    for block in $(seq "$BLOCKS"); do
        log "== $pair, block $block of $BLOCKS"
        step "$pair" "$block" 1 "$baseline" baseline
        step "$pair" "$block" 2 "$contender" keygate
        step "$pair" "$block" 3 "$contender" keygate
        step "$pair" "$block" 4 "$baseline" baseline
    done
done

cp "$CSV" "$OUT/http.csv"
python3 "$BENCH_DIR/summarize.py" "$CSV" \
    "wrk -t$THREADS -c$CONNS -d$DURATION, BLOCKS=$BLOCKS (A B B A), server and wrk each pinned to one core; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
    | tee "$OUT/http-$RUN_ID.md"
log "raw rows: $CSV; logs: $RUN"
