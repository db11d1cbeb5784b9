#!/usr/bin/env bash
# Inventory end to end: real `vboot serve` processes on loopback and the `vboot machines` CLI.
#
#   Tests/e2e/inventory.sh
#
# 1. config errors: a bad --config fails at start with FILE:LINE: and the reason.
# 2. API token: generated in DATA_DIR/api-token (mode 600), never logged (the log names the file), reused on restart.
# 3. `vboot machines`: add, list, show, set (whose answer must be the stored record), once,
#    timeline, local, rm, --json, a wrong token, a duplicate.
# 4. one-shot install over HTTP: the profile once (with vboot_done=), then the local disk; the
#    callback marks the install done.
# 5. config reload (SIGHUP) while a 64 MiB TFTP download runs: new variables and machines
#    apply, the download completes intact, an invalid file is refused with its line.
# 6. two servers on one PostgreSQL database: 200 concurrent script fetches of a `once` machine
#    split across both hand out exactly one install, in each of 6 rounds. Skipped (with the
#    reason) when Tests/lib/postgres-up.sh cannot start PostgreSQL.
#
# Environment: VBOOT=PATH (default .build/debug/vboot, relative to the repo root),
#   E2E_KEEP=1 keeps the work directory, INVENTORY_REQUESTS=N (default 200) and
#   INVENTORY_ROUNDS=N (default 6) size the two-server test.
# The last line is always "N passed, N failed" (after "N skipped" when something was skipped);
# the exit status is non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
REQUESTS=${INVENTORY_REQUESTS:-200}
ROUNDS=${INVENTORY_ROUNDS:-6}

PASSED=0 FAILED=0 SKIPPED=0
FAILURES=()
PIDS=()
USED_PORTS=()
WORK=
T_START=$(date +%s.%N)

finish() {
    echo
    [ ${#FAILURES[@]} -eq 0 ] || printf 'failed: %s\n' "${FAILURES[@]}"
    [ "${E2E_KEEP:-0}" != 1 ] || [ -z "$WORK" ] || echo "work directory kept: $WORK"
    echo "total $(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
    [ "$SKIPPED" -eq 0 ] || echo "$SKIPPED skipped"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

early_fail() {
    echo "inventory: $1" >&2
    FAILED=$((FAILED + 1)) FAILURES+=("$1")
    finish
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Preflight
for cmd in curl python3 sha256sum stat timeout awk; do
    command -v "$cmd" >/dev/null || early_fail "missing command: $cmd"
done
[ -x "$VBOOT" ] || early_fail "vboot binary not found at $VBOOT (build it: swift build --product vboot)"
[ -f "$ROOT/boot-scripts/profiles/debian.ipxe" ] || early_fail "missing $ROOT/boot-scripts/profiles/debian.ipxe"

alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

stop_pids() { # stop_pids PID...: TERM to all, up to 10 s for all of them, then KILL; bounded
    local pid i left
    for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
    for ((i = 0; i < 40; i++)); do
        left=0
        for pid in "$@"; do alive "$pid" && left=1; done
        [ "$left" = 1 ] || break
        sleep 0.25
    done
    for pid in "$@"; do
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        wait "$pid" 2>/dev/null || true
        forget_pid "$pid"
    done
}

forget_pid() { # a process that ended (and was waited for) is no longer ours to kill
    local pid=$1 keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

cleanup() {
    [ ${#PIDS[@]} -eq 0 ] || stop_pids "${PIDS[@]}"
    PIDS=()
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        [ "${E2E_KEEP:-0}" = 1 ] || rm -rf "$WORK" # finish() said so when it is kept
    fi
}
trap cleanup EXIT
trap 'echo "inventory: interrupted" >&2; exit 130' INT TERM

WORK=$(mktemp -d /tmp/vboot-inventory.XXXXXX)
# vboot drops to the vboot user before it reads anything: its files must be reachable by it.
chmod 755 "$WORK"
mkdir -p "$WORK/out"
cp -r "$ROOT/boot-scripts" "$WORK/boot-scripts"

# free_port tcp|udp -> a port the kernel hands out for 127.0.0.1 (bind to 0), not used before here
free_port() {
    local port i p dup
    for ((i = 0; i < 20; i++)); do
        port=$(python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' "$1") || return 1
        dup=0
        for p in "${USED_PORTS[@]}"; do [ "$p" != "$port" ] || dup=1; done
        if [ "$dup" = 0 ]; then
            USED_PORTS+=("$port")
            echo "$port"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# Helpers. Command output is captured into OUT (and the status into RC) and then grepped: never
# `cmd | grep -q` under pipefail (grep quitting early kills cmd with SIGPIPE).
pass() { PASSED=$((PASSED + 1)); printf 'PASS  %-62s %s\n' "$1" "${2:-}"; }
fail() {
    FAILED=$((FAILED + 1)) FAILURES+=("$1")
    printf 'FAIL  %-62s %s\n' "$1" "${2:-}"
    if [ -n "${3:-}" ]; then
        printf '%s\n' "$3" | tail -n 12 | cut -c1-300 | sed 's/^/        | /'
    fi
    return 0
}
skip() { SKIPPED=$((SKIPPED + 1)); printf 'SKIP  %-62s %s\n' "$1" "${2:-}"; }

capture() { RC=0 OUT=$("$@" 2>&1) || RC=$?; }
has() { grep -qE -- "$1" <<<"$2"; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# json EXPR TEXT: evaluates a Python expression over d = the parsed JSON; exit 1 if it does not parse
json() { python3 -c "import json, sys; d = json.loads(sys.stdin.read()); print($1)" <<<"$2"; }

vboot_tail() { # vboot_tail LOG: the last lines of a vboot log, for failures
    echo "---- $(basename "$1") (last 25 lines):"
    grep -vE '\[ServiceLifecycle\]| script profile local \(install already handed out' "$1" 2>/dev/null |
        tail -n 25 | cut -c1-300 | sed 's/^/    /' || true
}

# start_vboot NAME HTTP_PORT TFTP_PORT ARGS... -> pid in VBOOT_PID, the API's URL in VBOOT_API
# (its own free loopback port, --api-listen: the boot port serves no API), log in $WORK/NAME.log
start_vboot() {
    local name=$1 hport=$2 tport=$3 aport i
    shift 3
    aport=$(free_port tcp) || return 1
    VBOOT_API=http://127.0.0.1:$aport
    "$VBOOT" serve --dhcp off --listen 127.0.0.1 --http-port "$hport" --tftp-port "$tport" \
        --api-listen "127.0.0.1:$aport" "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    VBOOT_PID=$!
    PIDS+=("$VBOOT_PID")
    for ((i = 0; i < 60; i++)); do
        alive "$VBOOT_PID" || return 1
        if curl -s -m 2 -o /dev/null "$VBOOT_API/api/v1/openapi.json" &&
            curl -s -m 2 -o /dev/null "http://127.0.0.1:$hport/health"; then return 0; fi
        sleep 0.5
    done
    return 1
}

# wait_log FILE PATTERN [TRIES]: polls (0.25 s steps, 40 by default) until FILE has an ERE match
wait_log() {
    local file=$1 pattern=$2 tries=${3:-40} i
    for ((i = 0; i < tries; i++)); do
        grep -qE -- "$pattern" "$file" 2>/dev/null && return 0
        sleep 0.25
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
echo "== 1. config errors at start: vboot $VBOOT"
T0=$(now)
HP=$(free_port tcp) || early_fail "no free TCP port"
TP=$(free_port udp) || early_fail "no free UDP port"
mkdir -p "$WORK/config-errors"

# bad_config NAME FILE LINE REASON(ERE): vboot serve must exit non-zero, quickly, saying FILE:LINE: REASON
bad_config() {
    local name=$1 file=$2 line=$3 reason=$4 t0 secs
    t0=$(now)
    capture timeout 20 "$VBOOT" serve --config "$file" --data-dir "$WORK/config-errors/data" --dhcp off \
        --listen 127.0.0.1 --http-port "$HP" --tftp-port "$TP"
    secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    if [ "$RC" = 124 ]; then
        fail "$name" "still running after 20 s" "$OUT"
    elif [ "$RC" = 0 ]; then
        fail "$name" "exit status 0" "$OUT"
    elif ! grep -qF -- "$file:$line:" <<<"$OUT"; then
        fail "$name" "no $(basename "$file"):$line: in the output (exit $RC)" "$OUT"
    elif ! has "$reason" "$OUT"; then
        fail "$name" "the reason is missing (exit $RC)" "$OUT"
    elif awk -v s="$secs" 'BEGIN { exit !(s > 5) }'; then
        fail "$name" "took $secs s" "$OUT"
    else
        pass "$name" "exit $RC in $secs s: $(grep -m 1 -o "$(basename "$file"):$line:.*" <<<"$OUT" | cut -c1-60)"
    fi
}

cat >"$WORK/config-errors/next-boot.yaml" <<'EOF'
machines:
  - mac: "52:54:00:e2:01:01"
    hostname: inv-bad
    next_boot: sometimes
EOF
bad_config "bad next_boot in a machine: file:4: and the choices" "$WORK/config-errors/next-boot.yaml" 4 \
    'next_boot: expected one of .*once'

cat >"$WORK/config-errors/unknown-key.yaml" <<'EOF'
variables:
  greeting: hello
colour: blue
EOF
bad_config "unknown top-level key: file:3: unknown key \"colour\"" "$WORK/config-errors/unknown-key.yaml" 3 \
    'unknown key "colour"'

cat >"$WORK/config-errors/duplicate.yaml" <<'EOF'
machines:
  - { mac: "52:54:00:e2:01:02", hostname: inv-twin }
  - { mac: "52:54:00:e2:01:03", hostname: inv-twin }
EOF
bad_config "two machines with one hostname: file:3: names the first's line" "$WORK/config-errors/duplicate.yaml" 3 \
    'inv-twin is already used by the machine on line 2'
echo "   ($(elapsed "$T0"))"

# ---------------------------------------------------------------------------------------------
echo
echo "== 2. API token file"
T0=$(now)
D1=$WORK/data1
HP1=$(free_port tcp) || early_fail "no free TCP port"
TP1=$(free_port udp) || early_fail "no free UDP port"
if ! start_vboot first "$HP1" "$TP1" --data-dir "$D1" --boot-scripts "$WORK/boot-scripts"; then
    vboot_tail "$WORK/first.log"
    early_fail "vboot did not start (HTTP 127.0.0.1:$HP1 did not answer within 30 s)"
fi
TOKEN=
if [ ! -f "$D1/api-token" ]; then
    fail "token file: DATA_DIR/api-token created" "missing" "$(ls -la "$D1" 2>&1)"
else
    TOKEN=$(tr -d '[:space:]' <"$D1/api-token")
    MODE=$(stat -c %a "$D1/api-token")
    if [ "$MODE" = 600 ] && [[ $TOKEN =~ ^[0-9a-f]{32,}$ ]]; then
        pass "token file: DATA_DIR/api-token created, mode 600" "${#TOKEN} hex digits"
    else
        fail "token file: DATA_DIR/api-token created, mode 600" "mode $MODE, token '$TOKEN'"
    fi
fi
# Logs are copied and shipped: the log names the token's file, never the token.
SEEN=$({ grep -c -F -- "${TOKEN:-no token}" "$WORK/first.log" "$WORK/first.out" || true; } | awk -F: '{ n += $NF } END { print n + 0 }')
if [ -n "$TOKEN" ] && [ "$SEEN" = 0 ] && grep -qF "API token generated and saved in $D1/api-token" "$WORK/first.log"; then
    pass "token: the log names its file, never the token" "$(grep -m 1 -o 'API token generated[^(]*' "$WORK/first.log")"
else
    fail "token: the log names its file, never the token" "token found $SEEN times" "$(cat "$WORK/first.log")"
fi
stop_pids "$VBOOT_PID"

HP1=$(free_port tcp) || early_fail "no free TCP port"
TP1=$(free_port udp) || early_fail "no free UDP port"
if ! start_vboot second "$HP1" "$TP1" --data-dir "$D1" --boot-scripts "$WORK/boot-scripts"; then
    vboot_tail "$WORK/second.log"
    early_fail "vboot did not start again on the same data directory"
fi
S1_PID=$VBOOT_PID S1_LOG=$WORK/second.log API1=$VBOOT_API
AGAIN=$(tr -d '[:space:]' <"$D1/api-token" 2>/dev/null || true)
if [ -n "$TOKEN" ] && [ "$AGAIN" = "$TOKEN" ] && ! grep -qF -- "$TOKEN" "$WORK/second.log" "$WORK/second.out" &&
    ! grep -q 'API token generated' "$WORK/second.log"; then
    pass "token: a restart reuses the file and prints nothing"
else
    fail "token: a restart reuses the file and prints nothing" "file changed or token logged again" \
        "$(cat "$WORK/second.log")"
fi
echo "   ($(elapsed "$T0"))"

# ---------------------------------------------------------------------------------------------
echo
echo "== 3. vboot machines CLI against the API at ${API1#http://}"
T0=$(now) FAILED_BEFORE=$FAILED
SERVER1=http://127.0.0.1:$HP1
machines() { timeout 30 "$VBOOT" machines "$@" --server "$API1" --token-file "$D1/api-token"; }
M1=52:54:00:e2:03:01 H1=inv-node1

capture machines add "$M1" --hostname "$H1" --profile debian --var suite=trixie --var foo=bar
if [ "$RC" = 0 ] && has "hostname +$H1" "$OUT" && has 'var suite = trixie' "$OUT"; then
    pass "add --hostname --profile --var"
else
    fail "add --hostname --profile --var" "exit $RC" "$OUT"
fi

capture machines list
if [ "$RC" = 0 ] && has '^MAC +HOSTNAME' "$OUT" && has "^$M1 +$H1 +debian +profile" "$OUT"; then
    pass "list: table row with MAC, hostname, profile, next boot"
else
    fail "list: table row with MAC, hostname, profile, next boot" "exit $RC" "$OUT"
fi

capture machines show "hostname:$H1"
if [ "$RC" = 0 ] && has "^mac +$M1" "$OUT" && has 'var foo = bar' "$OUT"; then
    pass "show hostname:$H1"
else
    fail "show hostname:$H1" "exit $RC" "$OUT"
fi

capture machines set "hostname:$H1" --var colour=blue --unset var.foo --json
SET_JSON=$OUT SET_RC=$RC
capture machines show "$H1"
if [ "$SET_RC" = 0 ] && [ "$RC" = 0 ] && has 'var colour = blue' "$OUT" && ! has 'var foo' "$OUT" &&
    has 'var suite = trixie' "$OUT"; then
    pass "set --var colour=blue --unset var.foo"
else
    fail "set --var colour=blue --unset var.foo" "exit $SET_RC/$RC" "$SET_JSON"$'\n'"$OUT"
fi
# The PATCH answer must be the record as stored, updated_at included.
capture machines show "$H1" --json
SET_UPDATED=$(json 'd["updated_at"]' "$SET_JSON" 2>/dev/null || echo "unparsable")
SHOW_UPDATED=$(json 'd["updated_at"]' "$OUT" 2>/dev/null || echo "unparsable")
CREATED=$(json 'd["created_at"]' "$OUT" 2>/dev/null || echo "unparsable")
if [ "$SET_UPDATED" = "$SHOW_UPDATED" ] && [ "$SHOW_UPDATED" != "$CREATED" ]; then
    pass "set --json answers the stored updated_at" "$SHOW_UPDATED"
else
    fail "set --json answers the stored updated_at" \
        "set said $SET_UPDATED, show says $SHOW_UPDATED (created $CREATED)"
fi

capture machines once "hostname:$H1"
if [ "$RC" = 0 ] && has '^next_boot +once' "$OUT"; then
    pass "once: next_boot once" "$(grep -m 1 '^next_boot' <<<"$OUT" | tr -s ' ')"
else
    fail "once: next_boot once" "exit $RC" "$OUT"
fi

# Events reach the store in batches (every 250 ms): poll, bounded.
for ((i = 0; i < 20; i++)); do
    capture machines timeline "hostname:$H1"
    [ "$RC" != 0 ] || [ "$(grep -c 'changed by api' <<<"$OUT" || true)" -lt 2 ] || break
    sleep 0.25
done
if [ "$RC" = 0 ] && has '^TIME' "$OUT" && has 'change +ok +added by api' "$OUT" &&
    [ "$(grep -c 'changed by api' <<<"$OUT" || true)" -ge 2 ]; then
    pass "timeline: added, set and once are there" "$(($(wc -l <<<"$OUT") - 1)) events"
else
    fail "timeline: added, set and once are there" "exit $RC" "$OUT"
fi

capture machines local "hostname:$H1"
if [ "$RC" = 0 ] && has '^next_boot +local' "$OUT"; then
    pass "local: next_boot local"
else
    fail "local: next_boot local" "exit $RC" "$OUT"
fi

JSON_ERRORS=
capture machines list --json
[ "$RC" = 0 ] && [ "$(json "[m['hostname'] for m in d['machines'] if m['mac'] == '$M1']" "$OUT" 2>&1)" = "['$H1']" ] ||
    JSON_ERRORS+="list --json: $OUT"$'\n'
capture machines show "hostname:$H1" --json
[ "$RC" = 0 ] && [ "$(json "(d['next_boot'], sorted(d['variables'].items()))" "$OUT" 2>&1)" = "('local', [('colour', 'blue'), ('suite', 'trixie')])" ] ||
    JSON_ERRORS+="show --json: $OUT"$'\n'
capture machines timeline "hostname:$H1" --json
TL_KINDS=$(json "sorted(set(e['kind'] for e in d['events']))" "$OUT" 2>&1) || TL_KINDS=
[ "$RC" = 0 ] && [ "$TL_KINDS" = "['change']" ] || JSON_ERRORS+="timeline --json: $TL_KINDS $OUT"$'\n'
if [ -z "$JSON_ERRORS" ]; then
    pass "--json: list, show and timeline parse, with the right fields"
else
    fail "--json: list, show and timeline parse, with the right fields" "" "$JSON_ERRORS"
fi

capture timeout 30 "$VBOOT" machines list --server "$API1" --token 0123456789abcdef0123456789abcdef
if [ "$RC" != 0 ] && has 'wrong bearer token' "$OUT"; then
    pass "a wrong token: non-zero exit and a message" "exit $RC: $OUT"
else
    fail "a wrong token: non-zero exit and a message" "exit $RC" "$OUT"
fi

capture machines add "$M1"
OUT_MAC=$OUT RC_MAC=$RC
capture machines add 52:54:00:e2:03:02 --hostname "$H1"
if [ "$RC_MAC" != 0 ] && has 'already in the inventory' "$OUT_MAC" && [ "$RC" != 0 ] &&
    has "already in the inventory: hostname $H1" "$OUT"; then
    pass "a duplicate MAC or hostname: conflict" "$OUT_MAC"
else
    fail "a duplicate MAC or hostname: conflict" "exit $RC_MAC/$RC" "$OUT_MAC"$'\n'"$OUT"
fi

capture machines rm "hostname:$H1"
RM_OUT=$OUT RM_RC=$RC
capture machines list
LIST=$OUT
capture machines show "$M1"
if [ "$RM_RC" = 0 ] && ! has "$M1" "$LIST" && [ "$RC" != 0 ]; then
    pass "rm: gone from list, show fails" "show: $OUT"
else
    fail "rm: gone from list, show fails" "rm exit $RM_RC, show exit $RC" "$RM_OUT"$'\n'"$LIST"$'\n'"$OUT"
fi
echo "   ($(elapsed "$T0"))"

# ---------------------------------------------------------------------------------------------
echo
echo "== 4. one-shot install over HTTP"
T0=$(now)
M2=52:54:00:e2:04:01 M2H=52-54-00-e2-04-01
capture machines add "$M2" --hostname inv-once --profile debian --next-boot once
[ "$RC" = 0 ] || fail "add a once machine" "exit $RC" "$OUT"

capture curl -sS -m 10 "$SERVER1/boot.ipxe?mac=$M2H"
FIRST=$OUT
DONE_URL=$(grep -o 'vboot_done=http[^ ]*' <<<"$FIRST" | head -n 1 | cut -d= -f2- || true)
if [ "$RC" = 0 ] && has '^echo vboot: Debian .* installer' "$FIRST" && [ -n "$DONE_URL" ]; then
    pass "first fetch: the Debian profile with vboot_done=" "${DONE_URL#"$SERVER1"}"
else
    fail "first fetch: the Debian profile with vboot_done=" "exit $RC" "$FIRST"
fi

capture curl -sS -m 10 "$SERVER1/boot.ipxe?mac=$M2H"
if [ "$RC" = 0 ] && has "^echo vboot: $M2H boots from its local disk" "$OUT" && ! has 'vboot_done=http' "$OUT"; then
    pass "second fetch: the local disk"
else
    fail "second fetch: the local disk" "exit $RC" "$OUT"
fi

if [ -n "$DONE_URL" ]; then
    capture curl -sS -m 10 -w ' HTTP %{http_code}' "${DONE_URL%%\?*}?token=00000000000000000000000000000000"
    OUT=$(tr -d '\n' <<<"$OUT")
    if has 'HTTP 403' "$OUT"; then
        pass "callback with a wrong token: 403" "$OUT"
    else
        fail "callback with a wrong token: 403" "exit $RC" "$OUT"
    fi
    capture curl -sS -m 10 -w ' HTTP %{http_code}' "$DONE_URL"
    OUT=$(tr -d '\n' <<<"$OUT")
    if [ "$RC" = 0 ] && has '"changed" *: *true' "$OUT" && has 'HTTP 200' "$OUT"; then
        pass "callback: {\"changed\":true}" "$OUT"
    else
        fail "callback: {\"changed\":true}" "exit $RC" "$OUT"
    fi
    capture curl -sS -m 10 -w ' HTTP %{http_code}' "$DONE_URL"
    OUT=$(tr -d '\n' <<<"$OUT")
    if [ "$RC" = 0 ] && has '"changed" *: *false' "$OUT" && has 'HTTP 200' "$OUT"; then
        pass "the installer's retried callback: 200 {\"changed\":false}" "$OUT"
    else
        fail "the installer's retried callback: 200 {\"changed\":false}" "exit $RC" "$OUT"
    fi
    # Without the API token an unknown MAC and a wrong token get the same answer.
    capture curl -sS -m 10 -w ' HTTP %{http_code}' "$SERVER1/api/v1/machines/52-54-00-e2-04-99/done?token=00"
    UNKNOWN=$(tr -d '\n' <<<"$OUT")
    capture curl -sS -m 10 -w ' HTTP %{http_code}' "${DONE_URL%%\?*}?token=00"
    if [ "$UNKNOWN" = "$(tr -d '\n' <<<"$OUT")" ] && has 'HTTP 403' "$UNKNOWN"; then
        pass "callback: an unknown MAC and a wrong token look alike" "$UNKNOWN"
    else
        fail "callback: an unknown MAC and a wrong token look alike" "" "$UNKNOWN"$'\n'"$OUT"
    fi
else
    fail "callback: {\"changed\":true}" "no vboot_done URL in the first script"
fi

capture curl -sS -m 10 -w ' HTTP %{http_code}' -H "Authorization: Bearer $TOKEN" "$SERVER1/api/v1/machines"
if has 'HTTP 404' "$OUT" && ! has 'inv-once' "$OUT"; then
    pass "the boot port serves no API (404), the token notwithstanding"
else
    fail "the boot port serves no API (404), the token notwithstanding" "" "$OUT"
fi
capture machines show inv-once
if [ "$RC" = 0 ] && has '^next_boot +local' "$OUT"; then
    pass "after the callback: machines show says next_boot local"
else
    fail "after the callback: machines show says next_boot local" "exit $RC" "$OUT"
fi
if alive "$S1_PID"; then pass "vboot still running after sections 3 and 4"; else
    fail "vboot still running after sections 3 and 4" "it exited"
fi
[ "$FAILED" = "$FAILED_BEFORE" ] || vboot_tail "$S1_LOG"
stop_pids "$S1_PID"
echo "   ($(elapsed "$T0"))"

# ---------------------------------------------------------------------------------------------
echo
echo "== 5. config reload (SIGHUP) during a 64 MiB TFTP download"
T0=$(now) FAILED_BEFORE=$FAILED
R=$WORK/reload
mkdir -p "$R/assets" "$R/boot-scripts"
cp -r "$ROOT/boot-scripts/." "$R/boot-scripts/"
# Rendered as Mustache: no double braces in the comment.
cat >"$R/boot-scripts/default.ipxe" <<'EOF'
#!ipxe
# e2e inventory test: prints the site variable greeting
echo vboot-e2e greeting={{greeting}} mac={{mac}}
exit 1
EOF
head -c $((64 * 1024 * 1024)) /dev/urandom >"$R/assets/bigfile"
BIG_SUM=$(sha256sum <"$R/assets/bigfile")
cat >"$R/vboot.yaml" <<'EOF'
variables:
  greeting: hello
machines:
  - { mac: "52:54:00:e2:05:01", hostname: inv-declared1, profile: debian }
EOF
HP2=$(free_port tcp) || early_fail "no free TCP port"
TP2=$(free_port udp) || early_fail "no free UDP port"
SERVER2=http://127.0.0.1:$HP2
if ! start_vboot reload "$HP2" "$TP2" --config "$R/vboot.yaml" --data-dir "$R/data" \
    --boot-scripts "$R/boot-scripts" --assets "$R/assets"; then
    fail "vboot starts with --config" "HTTP 127.0.0.1:$HP2 did not answer" "$(cat "$WORK/reload.log")"
else
    S2_PID=$VBOOT_PID S2_LOG=$WORK/reload.log API2=$VBOOT_API
    machines2() { timeout 30 "$VBOOT" machines "$@" --server "$API2" --token-file "$R/data/api-token"; }
    capture curl -sS -m 10 "$SERVER2/boot.ipxe?mac=02-00-00-e2-05-99"
    if has '^echo vboot-e2e greeting=hello mac=02-00-00-e2-05-99' "$OUT"; then
        pass "before: the default script says hello"
    else
        fail "before: the default script says hello" "exit $RC" "$OUT"
    fi

    DL=$WORK/out/bigfile
    : >"$DL"
    # 512-byte blocks: curl 7.88 ignores --limit-rate for TFTP with a larger --tftp-blksize.
    timeout 90 curl -sS --max-time 90 --limit-rate 5M -o "$DL" \
        "tftp://127.0.0.1:$TP2/bigfile" 2>"$WORK/out/bigfile.err" &
    DL_PID=$!
    PIDS+=("$DL_PID")
    DL_T0=$(now)
    for ((i = 0; i < 40; i++)); do # until a few MiB have arrived: the transfer is under way
        [ "$(stat -c %s "$DL" 2>/dev/null || echo 0)" -lt $((4 * 1024 * 1024)) ] || break
        alive "$DL_PID" || break
        sleep 0.25
    done
    AT_START=$(stat -c %s "$DL" 2>/dev/null || echo 0)

    # The new file, written whole and then renamed in (vboot also polls the file for changes).
    cat >"$R/vboot.yaml.new" <<'EOF'
variables:
  greeting: bonjour
machines:
  - { mac: "52:54:00:e2:05:01", hostname: inv-declared1, profile: debian }
  - { mac: "52:54:00:e2:05:02", hostname: inv-declared2, profile: debian }
EOF
    mv "$R/vboot.yaml.new" "$R/vboot.yaml"
    kill -HUP "$S2_PID"
    if wait_log "$S2_LOG" 'config: SIGHUP: reloaded'; then
        RELOAD_LINE=$(grep -m 1 -o 'config: SIGHUP: reloaded.*' "$S2_LOG")
        DURING=no
        alive "$DL_PID" && DURING=yes
        MID=$(stat -c %s "$DL" 2>/dev/null || echo 0)
        if [ "$DURING" = yes ]; then
            pass "SIGHUP: log says reloaded, during the download" \
                "at $((MID / 1048576)) of 64 MiB: ${RELOAD_LINE##*machines: }"
        else
            fail "SIGHUP: log says reloaded, during the download" \
                "test precondition: the download had already ended ($AT_START bytes when seen running)"
        fi
    else
        fail "SIGHUP: log says reloaded, during the download" "no 'config: SIGHUP: reloaded' in 10 s" \
            "$(grep -v ServiceLifecycle "$S2_LOG" | tail -n 12)"
    fi

    capture curl -sS -m 10 "$SERVER2/boot.ipxe?mac=02-00-00-e2-05-99"
    if has '^echo vboot-e2e greeting=bonjour' "$OUT"; then
        pass "after: the default script says bonjour"
    else
        fail "after: the default script says bonjour" "exit $RC" "$OUT"
    fi
    capture machines2 list
    if [ "$RC" = 0 ] && has '^52:54:00:e2:05:02 +inv-declared2 +debian' "$OUT" && has '^52:54:00:e2:05:01 ' "$OUT"; then
        pass "after: the added machine is in machines list"
    else
        fail "after: the added machine is in machines list" "exit $RC" "$OUT"
    fi

    # An invalid file: refused with its line, the running settings stay.
    cat >"$R/vboot.yaml.new" <<'EOF'
variables:
  greeting: guten tag
machines:
  - { mac: "52:54:00:e2:05:01", hostname: inv-declared1, profile: debian }
  - { mac: "52:54:00:e2:05:03", hostname: inv-declared3, next_boot: sometimes }
EOF
    mv "$R/vboot.yaml.new" "$R/vboot.yaml"
    kill -HUP "$S2_PID"
    if wait_log "$S2_LOG" 'config: SIGHUP: not reloaded'; then
        REFUSED=$(grep -m 1 -o 'config: SIGHUP: not reloaded.*' "$S2_LOG")
        if has 'vboot\.yaml:5:[0-9]+: next_boot' "$REFUSED"; then
            pass "invalid file + SIGHUP: not reloaded, with its line" "${REFUSED##*/}"
        else
            fail "invalid file + SIGHUP: not reloaded, with its line" "no vboot.yaml:5:" "$REFUSED"
        fi
    else
        fail "invalid file + SIGHUP: not reloaded, with its line" "no 'config: SIGHUP: not reloaded' in 10 s" \
            "$(grep -v ServiceLifecycle "$S2_LOG" | tail -n 12)"
    fi
    capture curl -sS -m 10 "$SERVER2/boot.ipxe?mac=02-00-00-e2-05-99"
    SCRIPT_AFTER=$OUT
    capture machines2 list
    if alive "$S2_PID" && has '^echo vboot-e2e greeting=bonjour' "$SCRIPT_AFTER" && ! has 'inv-declared3' "$OUT" &&
        has 'inv-declared2' "$OUT"; then
        pass "after the refusal: still running, still bonjour, machines kept"
    else
        fail "after the refusal: still running, still bonjour, machines kept" "" "$SCRIPT_AFTER"$'\n'"$OUT"
    fi

    RC=0
    wait "$DL_PID" || RC=$?
    forget_pid "$DL_PID"
    GOT_SUM=$(sha256sum <"$DL")
    if [ "$RC" != 0 ]; then
        fail "the download completes with the right sha256" "curl exit $RC after $(elapsed "$DL_T0")" \
            "$(cat "$WORK/out/bigfile.err")"
    elif [ "$GOT_SUM" != "$BIG_SUM" ]; then
        fail "the download completes with the right sha256" "sha256 differs: got $(stat -c %s "$DL") bytes"
    else
        pass "the download completes with the right sha256" "64 MiB in $(elapsed "$DL_T0")"
    fi
    rm -f "$DL"
    [ "$FAILED" = "$FAILED_BEFORE" ] || vboot_tail "$S2_LOG"
    stop_pids "$S2_PID"
fi
echo "   ($(elapsed "$T0"))"

# ---------------------------------------------------------------------------------------------
echo
echo "== 6. two servers on one PostgreSQL database, $REQUESTS concurrent fetches of a once machine"
T0=$(now) FAILED_BEFORE=$FAILED
PG_NAME="two servers, one database: exactly one install"
if [ "$(id -u)" != 0 ]; then
    skip "$PG_NAME" "Tests/lib/postgres-up.sh needs root"
elif ! DB_URL=$(VBOOT_TEST_DB=${VBOOT_TEST_DB:-vboot_e2e_inventory} timeout 60 "$ROOT/Tests/lib/postgres-up.sh" 2>"$WORK/postgres-up.err"); then
    skip "$PG_NAME" "PostgreSQL could not be started: $(tail -n 1 "$WORK/postgres-up.err")"
else
    echo "   database ${DB_URL%%\?*}"
    HPA=$(free_port tcp) && TPA=$(free_port udp) && HPB=$(free_port tcp) && TPB=$(free_port udp) ||
        early_fail "no free ports"
    SA=http://127.0.0.1:$HPA SB=http://127.0.0.1:$HPB
    STARTED=yes
    start_vboot pg-a "$HPA" "$TPA" --database "$DB_URL" --data-dir "$WORK/data-a" \
        --boot-scripts "$WORK/boot-scripts" || STARTED=no
    PA_PID=$VBOOT_PID APIA=$VBOOT_API
    start_vboot pg-b "$HPB" "$TPB" --database "$DB_URL" --data-dir "$WORK/data-b" \
        --boot-scripts "$WORK/boot-scripts" || STARTED=no
    PB_PID=$VBOOT_PID APIB=$VBOOT_API
    if [ "$STARTED" != yes ]; then
        fail "both servers start on PostgreSQL" "" "$(tail -n 8 "$WORK/pg-a.log")"$'\n'"$(tail -n 8 "$WORK/pg-b.log")"
    else
        pass "both servers start on PostgreSQL" "A :$HPA, B :$HPB"
        ma() { timeout 30 "$VBOOT" machines "$@" --server "$APIA" --token-file "$WORK/data-a/api-token"; }
        mb() { timeout 30 "$VBOOT" machines "$@" --server "$APIB" --token-file "$WORK/data-b/api-token"; }
        M6=52:54:00:e2:06:01 M6H=52-54-00-e2-06-01

        # The client: REQUESTS fetches from 32 threads, alternating A and B. Prints
        # "install=N local=N other=N errors=N ms=N rps=N install_from=A|B|- answered=A:N,B:N
        # first_problem=...".
        cat >"$WORK/fetch-many.py" <<'EOF'
import sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

servers = sys.argv[1].split(",")
mac, count, workers = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def fetch(i):
    server = "AB"[i % len(servers)]
    try:
        url = f"{servers[i % len(servers)]}/boot.ipxe?mac={mac}"
        with urllib.request.urlopen(url, timeout=15) as response:
            body = response.read().decode()
    except Exception as error:
        return "error", server, str(error).replace(" ", "_")[:80]
    if "vboot_done=http" in body:
        return "install", server, ""
    if f"vboot: {mac} boots from its local disk" in body:
        return "local", server, ""
    return "other", server, body[:80].replace("\n", "|").replace(" ", "_")

start = time.monotonic()
with ThreadPoolExecutor(workers) as pool:
    results = list(pool.map(fetch, range(count)))
ms = (time.monotonic() - start) * 1000
kinds = [kind for kind, _, _ in results]
installs = "".join(server for kind, server, _ in results if kind == "install") or "-"
problems = [note for kind, _, note in results if kind in ("error", "other")]
print(f"install={kinds.count('install')} local={kinds.count('local')} other={kinds.count('other')} "
      f"errors={kinds.count('error')} ms={ms:.0f} rps={count / ms * 1000:.0f} install_from={installs} "
      f"answered=A:{sum(kind != 'error' and server == 'A' for kind, server, _ in results)},"
      f"B:{sum(kind != 'error' and server == 'B' for kind, server, _ in results)} "
      f"first_problem={problems[0] if problems else '-'}")
EOF
        # field NAME LINE: one key=value from fetch-many.py's line
        field() { grep -o "$1=[^ ]*" <<<"$2" | cut -d= -f2-; }

        capture ma add "$M6" --hostname inv-race --profile debian --next-boot once
        if [ "$RC" != 0 ]; then
            fail "add a once machine through A" "exit $RC" "$OUT"
        else
            ROUND_SUMMARY=() ROUND_BAD=0 ALL_OK=yes
            for ((round = 1; round <= ROUNDS; round++)); do
                if [ "$round" -gt 1 ]; then
                    # Reset through the other server every other round.
                    if ((round % 2)); then capture ma once "$M6"; else capture mb once "$M6"; fi
                    [ "$RC" = 0 ] || { fail "round $round: machines once resets the install" "exit $RC" "$OUT"; continue; }
                fi
                capture timeout 120 python3 "$WORK/fetch-many.py" "$SA,$SB" "$M6H" "$REQUESTS" 32
                LINE=$OUT
                INSTALL=$(field install "$LINE" || echo '?') LOCAL=$(field local "$LINE" || echo '?')
                ERRS=$(field errors "$LINE" || echo '?') OTHER=$(field other "$LINE" || echo '?')
                MS=$(field ms "$LINE" || echo '?') RPS=$(field rps "$LINE" || echo '?')
                FROM=$(field install_from "$LINE" || echo '?') ANSWERED=$(field answered "$LINE" || echo '?')
                ROUND_SUMMARY+=("r$round:${INSTALL}x$FROM/${MS}ms")
                OK=no
                [ "$RC" = 0 ] && [ "$INSTALL" = 1 ] && [ "$LOCAL" = $((REQUESTS - 1)) ] && [ "$ERRS" = 0 ] &&
                    [ "$OTHER" = 0 ] && OK=yes
                if [ "$round" = 1 ]; then
                    NAME1="$REQUESTS fetches over A+B: 1 install, $((REQUESTS - 1)) local, 0 errors"
                    if [ "$OK" = yes ]; then
                        pass "$NAME1" "$MS ms, $RPS req/s, install from $FROM, answered $ANSWERED"
                    else
                        fail "$NAME1" "exit $RC" "$LINE"
                    fi
                    # Timeline through B holds the events of both servers: REQUESTS script events.
                    for ((i = 0; i < 40; i++)); do
                        capture mb timeline "$M6" --json --limit 1000
                        COUNTS=$(json "(sum(e['kind'] == 'script' for e in d['events']), sum(e['details'].get('action', '').startswith('profile') for e in d['events']))" "$OUT" 2>&1) || COUNTS=
                        [ "$COUNTS" != "($REQUESTS, 1)" ] || break
                        sleep 0.25
                    done
                    if [ "$COUNTS" = "($REQUESTS, 1)" ]; then
                        pass "timeline through B: $REQUESTS script events, 1 install" "(A and B answered $ANSWERED)"
                    else
                        fail "timeline through B: $REQUESTS script events, 1 install" "(scripts, installs) = $COUNTS"
                    fi
                else
                    [ "$OK" = yes ] || { ALL_OK=no; ROUND_BAD=$((ROUND_BAD + 1)); echo "        | round $round: $LINE"; }
                fi
            done
            if [ "$ROUNDS" -gt 1 ]; then
                NAME2="$((ROUNDS - 1)) more rounds (reset by machines once): 1 install each"
                if [ "$ALL_OK" = yes ]; then
                    pass "$NAME2" "${ROUND_SUMMARY[*]:1}"
                else
                    fail "$NAME2" "$ROUND_BAD of $((ROUNDS - 1)) rounds wrong: ${ROUND_SUMMARY[*]:1}"
                fi
                WANT="($((REQUESTS * ROUNDS)), $ROUNDS)"
                for ((i = 0; i < 40; i++)); do
                    capture mb timeline "$M6" --json --limit $((REQUESTS * ROUNDS + 100))
                    COUNTS=$(json "(sum(e['kind'] == 'script' for e in d['events']), sum(e['details'].get('action', '').startswith('profile') for e in d['events']))" "$OUT" 2>&1) || COUNTS=
                    [ "$COUNTS" != "$WANT" ] || break
                    sleep 0.25
                done
                if [ "$COUNTS" = "$WANT" ]; then
                    pass "timeline after all rounds: $((REQUESTS * ROUNDS)) script events, $ROUNDS installs"
                else
                    fail "timeline after all rounds: $((REQUESTS * ROUNDS)) script events, $ROUNDS installs" \
                        "(scripts, installs) = $COUNTS"
                fi
            fi
            echo "   rounds (installs x server that handed it out / wall time): ${ROUND_SUMMARY[*]}"
        fi
        if alive "$PA_PID" && alive "$PB_PID"; then pass "both servers still running"; else
            fail "both servers still running" "one exited"
        fi
    fi
    if [ "$FAILED" != "$FAILED_BEFORE" ]; then
        vboot_tail "$WORK/pg-a.log"
        vboot_tail "$WORK/pg-b.log"
    fi
    stop_pids "$PA_PID" "$PB_PID"
fi
echo "   ($(elapsed "$T0"))"

finish
