#!/usr/bin/env bash
# TFTP interop: real clients (curl, atftp, tftp-hpa) against vboot's TFTP server.
#
#   Tests/e2e/tftp-interop.sh
#
# 1. loopback: vboot serve --dhcp off --listen 127.0.0.1 on free high ports; every client
#    downloads files of awkward sizes (0, 511, 512, 513, 4 x 1468, 3 MiB, and 40 MiB, which at
#    blksize 512 crosses the 65535-block rollover) and the sha256 must match; path escapes and
#    writes must be refused, each refusal by the server's own ERROR packet and followed by a good
#    download (a dead server refuses everything too).
# 2. lossy path: loss 5%, duplicate 5%, reorder 25%, delay 1 ms in both directions, applied by
#    lib/tftp-impair-relay.py between the clients and vboot on loopback.
#
# Environment: VBOOT=PATH (default .build/debug/vboot, relative to the repo root),
#   TFTP_KEEP=1 keeps the work directory,
#   TFTP_RELAY_SEED=N replays the userspace relay's random choices (each run prints its seed).
# The last line is always "N passed, N failed", with ", N skipped" when something was skipped;
# the exit status is non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
CLIENT_TIMEOUT=120 # seconds per transfer, loopback or lossy

PASSED=0 FAILED=0 SKIPPED=0
FAILURES=()
PIDS=()
WORK=

finish() {
    echo
    [ ${#FAILURES[@]} -eq 0 ] || printf 'failed: %s\n' "${FAILURES[@]}"
    if [ "$SKIPPED" -gt 0 ]; then
        echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
    else
        echo "$PASSED passed, $FAILED failed"
    fi
    [ "$FAILED" -eq 0 ]
}

early_fail() {
    echo "tftp-interop: $1" >&2
    FAILED=$((FAILED + 1)) FAILURES+=("$1")
    finish
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Preflight
for cmd in curl atftp tftp sha256sum ss timeout; do
    command -v "$cmd" >/dev/null || early_fail "missing command: $cmd"
done
[ -f /usr/lib/ipxe/ipxe.efi ] || early_fail "missing /usr/lib/ipxe/ipxe.efi (apt-get install ipxe)"
[ -x "$VBOOT" ] || early_fail "vboot binary not found at $VBOOT (build it: swift build --product vboot)"

# shellcheck source=lib/processes.sh
. "$HERE/lib/processes.sh"

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$FAILED" -gt 0 ] || [ "${TFTP_KEEP:-0}" = 1 ]; then
            echo "work directory kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
}
trap cleanup EXIT
trap 'echo "tftp-interop: interrupted" >&2; exit 130' INT TERM

WORK=$(mktemp -d /tmp/vboot-tftp.XXXXXX)
chmod 755 "$WORK" # vboot serves it as the vboot user

# free_port udp|tcp -> a port no socket uses, picked at random from 20000-32767: below the
# kernel's ephemeral range (32768-60999), where an outgoing connection elsewhere on the machine
# could take the port between this check and vboot's bind (seen once in CI, stop 38).
free_port() {
    local proto=$1 port i flag
    [ "$proto" = udp ] && flag=-Haun || flag=-Hatn
    for ((i = 0; i < 100; i++)); do
        port=$((20000 + RANDOM % 12768))
        if [ -z "$(ss $flag "( sport = :$port )" 2>/dev/null)" ]; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# Server inputs
ASSETS=$WORK/assets IPXE=$WORK/ipxe
mkdir -p "$ASSETS/interop" "$IPXE" "$WORK/boot-scripts" "$WORK/data" "$WORK/out"
cp /usr/lib/ipxe/ipxe.efi "$IPXE/"
cp "$ROOT/boot-scripts/default.ipxe" "$WORK/boot-scripts/"
: >"$ASSETS/interop/f0"
head -c 511 /dev/urandom >"$ASSETS/interop/f511"
head -c 512 /dev/urandom >"$ASSETS/interop/f512"
head -c 513 /dev/urandom >"$ASSETS/interop/f513"
head -c $((1468 * 4)) /dev/urandom >"$ASSETS/interop/f5872"
head -c $((64 * 1024)) /dev/urandom >"$ASSETS/interop/f64k"
head -c $((300 * 1024)) /dev/urandom >"$ASSETS/interop/f300k"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$ASSETS/interop/f3m"
head -c $((40 * 1024 * 1024)) /dev/urandom >"$ASSETS/interop/f40m"
ln -s /etc/hostname "$ASSETS/interop/escape"
ln -s /etc/hostname "$ASSETS/escape"

# start_vboot NAME LISTEN TFTP_PORT HTTP_PORT [prefix command...] -> pid in VBOOT_PID
start_vboot() {
    local name=$1 listen=$2 tport=$3 hport=$4
    shift 4
    "$@" "$VBOOT" serve --dhcp off --listen "$listen" --tftp-port "$tport" --http-port "$hport" \
        --ipxe-dir "$IPXE" --assets "$ASSETS" --boot-scripts "$WORK/boot-scripts" \
        --data-dir "$WORK/data-$name" --log-level debug \
        >"$WORK/vboot-$name.stdout" 2>"$WORK/vboot-$name.log" &
    VBOOT_PID=$!
    PIDS+=("$VBOOT_PID")
    local i
    for ((i = 0; i < 60; i++)); do
        alive "$VBOOT_PID" || return 1
        if "$@" curl -s -m 2 -o /dev/null "http://$listen:$hport/boot.ipxe?mac=02-00-00-00-00-01"; then
            sleep 0.3
            return 0
        fi
        sleep 0.5
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# Test helpers. Every client runs under `timeout`; its output lands in $WORK/out/<n>.log.
N=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS  %-58s %s\n' "$1" "${2:-}"; }
fail() {
    FAILED=$((FAILED + 1)) FAILURES+=("$1")
    printf 'FAIL  %-58s %s\n' "$1" "${2:-}"
    [ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/        | /' "$3" | tail -n 8
    return 0
}
skip() { SKIPPED=$((SKIPPED + 1)); printf 'SKIP  %-58s %s\n' "$1" "${2:-}"; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# fetch CLIENT VARIANT HOST PORT REMOTE LOCAL [prefix command...] -> client's exit status
fetch() {
    local client=$1 variant=$2 host=$3 port=$4 remote=$5 local=$6
    shift 6
    case $client in
        curl)
            : >"$local" # curl does not create the output file for a 0-byte transfer
            local opts=()
            case $variant in
                default) ;;
                no-options) opts=(--tftp-no-options) ;;
                blksize=*) opts=(--tftp-blksize "${variant#blksize=}") ;;
            esac
            "$@" timeout "$CLIENT_TIMEOUT" curl -sS --max-time "$CLIENT_TIMEOUT" "${opts[@]}" \
                -o "$local" "tftp://$host:$port/$remote"
            ;;
        atftp)
            local opts=() o
            IFS=, read -ra o <<<"$variant"
            for v in "${o[@]}"; do
                case $v in
                    default) ;;
                    blksize=* | windowsize=*) opts+=(--option "${v%%=*} ${v#*=}") ;;
                    tsize) opts+=(--option "tsize enable") ;;
                esac
            done
            "$@" timeout "$CLIENT_TIMEOUT" atftp "${opts[@]}" --tftp-timeout 2 -g -r "$remote" \
                -l "$local" "$host" "$port"
            ;;
        tftp-hpa)
            # tftp-hpa's exit status is not reliable on errors; it prints "Error code N: ...".
            local out
            out=$("$@" timeout "$CLIENT_TIMEOUT" tftp -m binary "$host" "$port" -c get "$remote" "$local" 2>&1) || {
                echo "$out"
                return 1
            }
            echo "$out"
            if grep -qiE 'error|timed out|refused' <<<"$out"; then return 1; fi
            ;;
    esac
}

# download CLIENT VARIANT HOST PORT FILE(relative to assets, or ipxe.efi) [prefix...]
download() {
    local client=$1 variant=$2 host=$3 port=$4 file=$5
    shift 5
    N=$((N + 1))
    local name="$client $variant $file" local=$WORK/out/$N.bin log=$WORK/out/$N.log src t0
    if [ "$file" = ipxe.efi ]; then src=$IPXE/ipxe.efi; else src=$ASSETS/$file; fi
    local rc=0 attempt note=
    for attempt in 1 2 3; do
        t0=$(now) rc=0
        fetch "$client" "$variant" "$host" "$port" "$file" "$local" "$@" >"$log" 2>&1 || rc=$?
        # atftp aborts when it sees a second OACK (tftp_file.c: "oacks > 1"), which happens
        # whenever the path duplicates the OACK or loses ACK 0 and the server (rightly) resends
        # it. That is the client's limitation, not the server's: try again, and say so.
        if [ "$rc" != 0 ] && [ "$client" = atftp ] && grep -q 'unexpected OACK' "$log"; then
            note=" (attempt $((attempt + 1)): atftp aborted on a repeated OACK)"
            continue
        fi
        break
    done
    if [ "$rc" != 0 ]; then
        fail "$name" "client failed ($(elapsed "$t0"))$note" "$log"
    elif [ ! -f "$local" ]; then
        fail "$name" "no local file" "$log"
    elif [ "$(sha256sum <"$local")" != "$(sha256sum <"$src")" ]; then
        fail "$name" "sha256 differs: got $(stat -c %s "$local") bytes, want $(stat -c %s "$src")" "$log"
    else
        pass "$name" "$(stat -c %s "$local") bytes, $(elapsed "$t0")$note"
    fi
    rm -f "$local"
}

# A dead server "refuses" every request too, so a refusal counts only when it is the server's
# ERROR packet and the server then still serves a good file.
# server_error CLIENT STATUS LOG: the client failed on an ERROR packet, not on a timeout.
server_error() {
    case $1 in
        curl) [ "$2" -ge 68 ] && [ "$2" -le 74 ] ;; # CURLE_TFTP_NOTFOUND .. CURLE_TFTP_NOSUCHUSER
        atftp) grep -q 'error received from server' "$3" ;;
        tftp-hpa) grep -qE '^Error code [0-9]+: ' "$3" ;;
    esac
}
# answering HOST PORT: vboot (LO_PID) is alive and serves interop/f513 intact.
answering() {
    local got=$WORK/out/control.bin rc=0
    alive "$LO_PID" || { echo "vboot (pid $LO_PID) is not running"; return 1; }
    timeout 30 curl -sS --max-time 30 -o "$got" "tftp://$1:$2/interop/f513" || rc=$?
    cmp -s "$got" "$ASSETS/interop/f513" || { echo "control download of interop/f513: exit $rc, not the file"; rc=1; }
    rm -f "$got"
    return "$rc"
}

# refused CLIENT HOST PORT REMOTE: the download must fail on the server's ERROR packet, must not
# deliver the target, and the server must serve a good file right after.
refused() {
    local client=$1 host=$2 port=$3 remote=$4
    N=$((N + 1))
    local name="$client refuses $remote" local=$WORK/out/$N.bin log=$WORK/out/$N.log rc=0
    fetch "$client" default "$host" "$port" "$remote" "$local" >"$log" 2>&1 || rc=$?
    if [ "$rc" = 124 ]; then
        fail "$name" "client timed out (no error packet?)" "$log"
    elif [ "$rc" != 0 ]; then
        if [ -s "$local" ] && { cmp -s "$local" /etc/passwd || cmp -s "$local" /etc/hostname; }; then
            fail "$name" "client reported an error but received the file" "$log"
        elif ! server_error "$client" "$rc" "$log"; then
            fail "$name" "no ERROR packet from the server (exit $rc)" "$log"
        elif ! answering "$host" "$port" >>"$log" 2>&1; then
            fail "$name" "refused, but the server does not serve a good file after it" "$log"
        else
            pass "$name" "(exit $rc: $(grep -v '^\s*$' "$log" | head -n 1 | cut -c1-56))"
        fi
    else
        fail "$name" "download succeeded ($(stat -c %s "$local" 2>/dev/null || echo 0) bytes)" "$log"
    fi
    rm -f "$local"
}

# put_refused CLIENT HOST PORT: a write request must fail on the server's ERROR packet and leave no
# file on the server, and the server must serve a good file right after.
put_refused() {
    local client=$1 host=$2 port=$3 rc=0
    N=$((N + 1))
    local remote=upload-$client-$N.bin log=$WORK/out/$N.log
    local name="$client put is refused"
    head -c 1000 /dev/urandom >"$WORK/out/$remote"
    case $client in
        curl) timeout 30 curl -sS --max-time 30 -T "$WORK/out/$remote" "tftp://$host:$port/$remote" ;;
        atftp) timeout 30 atftp --tftp-timeout 2 -p -l "$WORK/out/$remote" -r "$remote" "$host" "$port" ;;
        tftp-hpa)
            local out
            out=$(cd "$WORK/out" && timeout 30 tftp -m binary "$host" "$port" -c put "$remote" 2>&1) || rc=$?
            echo "$out"
            [ "$rc" != 0 ] || ! grep -qiE 'error|timed out' <<<"$out" || rc=1
            ;;
    esac >"$log" 2>&1 || rc=$?
    local found
    found=$(find "$ASSETS" "$IPXE" "$WORK/boot-scripts" -name "$remote" 2>/dev/null | head -n 1)
    if [ -n "$found" ]; then
        fail "$name" "the server stored $found" "$log"
    elif [ "$rc" = 124 ]; then
        fail "$name" "client timed out (no error packet?)" "$log"
    elif [ "$rc" = 0 ]; then
        fail "$name" "client reported success" "$log"
    elif ! server_error "$client" "$rc" "$log"; then
        fail "$name" "no ERROR packet from the server (exit $rc)" "$log"
    elif ! answering "$host" "$port" >>"$log" 2>&1; then
        fail "$name" "refused, but the server does not serve a good file after it" "$log"
    else
        pass "$name" "(exit $rc: $(grep -v '^\s*$' "$log" | head -n 1 | cut -c1-56))"
    fi
}

vboot_tail() {
    echo "---- vboot log ($1, last 40 lines):"
    grep -v '\[ServiceLifecycle\]' "$2" 2>/dev/null | tail -n 40 | cut -c1-300 | sed 's/^/    /'
}

# ---------------------------------------------------------------------------------------------
echo "== 1. loopback: vboot $VBOOT"
TPORT=$(free_port udp) || early_fail "no free UDP port"
HPORT=$(free_port tcp) || early_fail "no free TCP port"
echo "   tftp 127.0.0.1:$TPORT, http 127.0.0.1:$HPORT, work $WORK"
if ! start_vboot lo 127.0.0.1 "$TPORT" "$HPORT"; then
    vboot_tail loopback "$WORK/vboot-lo.log"
    early_fail "vboot did not start on 127.0.0.1 (HTTP $HPORT did not answer within 30 s)"
fi
LO_PID=$VBOOT_PID
FAILED_BEFORE=$FAILED
H=127.0.0.1 P=$TPORT

for client in curl atftp tftp-hpa; do download "$client" default $H "$P" ipxe.efi; done
# curl 7.88 rejects "tsize 0" in an OACK ("invalid tsize -:0:- value in OACK packet"), so an empty
# file can only be fetched by curl without options.
download curl no-options $H "$P" interop/f0
for f in f0 f511 f512 f513 f5872 f64k f3m; do
    if [ "$f" != f0 ]; then
        download curl default $H "$P" "interop/$f"
        download curl blksize=1468 $H "$P" "interop/$f"
    fi
    download atftp blksize=1468,tsize $H "$P" "interop/$f"
    download atftp blksize=1468,windowsize=16 $H "$P" "interop/$f"
    download tftp-hpa default $H "$P" "interop/$f"
done
download curl no-options $H "$P" interop/f513
download curl no-options $H "$P" interop/f3m
download curl blksize=8 $H "$P" interop/f5872
download atftp windowsize=4 $H "$P" interop/f3m
# 40 MiB at 512-byte blocks = 81920 blocks: the block number wraps past 65535.
download curl blksize=512 $H "$P" interop/f40m
download tftp-hpa default $H "$P" interop/f40m
download atftp blksize=512,windowsize=16 $H "$P" interop/f40m
download curl blksize=1468 $H "$P" interop/f40m

for client in curl atftp tftp-hpa; do
    refused "$client" $H "$P" ../etc/passwd
    refused "$client" $H "$P" /etc/passwd
    refused "$client" $H "$P" interop/../../etc/passwd
    refused "$client" $H "$P" interop/escape
    refused "$client" $H "$P" escape
    refused "$client" $H "$P" interop/does-not-exist
    put_refused "$client" $H "$P"
done
# Still serving after all of that?
download curl blksize=1468 $H "$P" interop/f513
if alive "$LO_PID"; then pass "vboot still running after the loopback tests"; else fail "vboot still running after the loopback tests" "it exited"; fi
[ "$FAILED" = "$FAILED_BEFORE" ] || vboot_tail loopback "$WORK/vboot-lo.log"

# ---------------------------------------------------------------------------------------------
echo
echo "== 2. lossy path, userspace relay (loss 5% duplicate 5% reorder 25% delay 1ms, both directions)"
if ! command -v python3 >/dev/null; then
    skip "userspace lossy relay" "python3 not installed"
else
    RPORT=$(free_port udp) || early_fail "no free UDP port"
    python3 "$HERE/lib/tftp-impair-relay.py" --listen "127.0.0.1:$RPORT" --server "127.0.0.1:$TPORT" \
        --loss 5 --duplicate 5 --reorder 25 --delay-ms 1 ${TFTP_RELAY_SEED:+--seed "$TFTP_RELAY_SEED"} \
        2>"$WORK/relay.log" &
    RELAY_PID=$!
    PIDS+=("$RELAY_PID")
    sleep 0.5
    FAILED_BEFORE=$FAILED
    if ! alive "$RELAY_PID"; then
        fail "userspace lossy relay starts" "" "$WORK/relay.log"
    else
        echo "   relay 127.0.0.1:$RPORT -> 127.0.0.1:$TPORT ($(head -n 1 "$WORK/relay.log"))"
        for f in f513 f5872 f64k; do
            download curl blksize=1468 $H "$RPORT" "interop/$f"
            download atftp blksize=1468,windowsize=16 $H "$RPORT" "interop/$f"
            download tftp-hpa default $H "$RPORT" "interop/$f"
        done
        download atftp blksize=1468,windowsize=16 $H "$RPORT" interop/f300k
        stop_pid "$RELAY_PID"
        echo "   $(tail -n 1 "$WORK/relay.log")"
    fi
    [ "$FAILED" = "$FAILED_BEFORE" ] || vboot_tail "loopback, lossy relay" "$WORK/vboot-lo.log"
fi

finish
