#!/usr/bin/env bash
# The live timeline under load: what `GET /api/v1/events` costs vboot with many browsers open,
# and that a browser which stops reading costs a bounded queue, then its connection.
#
#   Benchmarks/run-events.sh [--streams N] [--events N]
#
# One `vboot serve` on loopback (high ports, no DHCP), N machines in its inventory, STREAMS live
# streams (curl -N, reading as fast as they can) and one that never reads (a socket that sends its
# request and nothing else). EVENTS script fetches (curl --parallel) make EVENTS timeline events.
# Prints: how long until every stream had every event, vboot's RSS before, at the peak and after,
# the largest `event_streams_queued_bytes` seen, and whether the reader that never reads was closed
# (`event_streams_stalled`, after 30 s). Needs root only to drop to the vboot user like the
# service does; nothing leaves 127.0.0.1. VBOOT=PATH (default .build/release/vboot, else debug).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
STREAMS=32 EVENTS=20000 MACHINES=50
while [ $# -gt 0 ]; do
    case $1 in
        --streams) STREAMS=$2; shift 2 ;;
        --events) EVENTS=$2; shift 2 ;;
        *) echo "usage: $0 [--streams N] [--events N]" >&2; exit 2 ;;
    esac
done
VBOOT=${VBOOT:-}
[ -n "$VBOOT" ] || { [ -x .build/release/vboot ] && VBOOT=.build/release/vboot || VBOOT=.build/debug/vboot; }
WORK=$(mktemp -d /tmp/vboot-events.XXXXXX)
chmod 755 "$WORK"
API=18481 HTTP=18480
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/data" "$WORK/streams"
cp -r boot-scripts "$WORK/"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$WORK/token"
chmod 600 "$WORK/token"
id vboot >/dev/null 2>&1 && chown vboot "$WORK/token" "$WORK/data"
TOKEN=$(cat "$WORK/token")
"$VBOOT" serve --dhcp off --listen 127.0.0.1 --http-port $HTTP --tftp-port 18469 --api-listen 127.0.0.1:$API \
    --api-token-file "$WORK/token" --data-dir "$WORK/data" --boot-scripts "$WORK/boot-scripts" \
    --log-level warning >"$WORK/vboot.log" 2>&1 &
VBOOT_PID=$!
PIDS+=("$VBOOT_PID")
for ((i = 0; i < 60; i++)); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$API/health" && break; sleep 0.25; done
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$VBOOT_PID/status"; }
gauge() { curl -s "http://127.0.0.1:$API/metrics" | awk -v n="vboot_$1" '$1 == n {print $2}'; }
counter() { curl -s "http://127.0.0.1:$API/metrics" | awk -v n="vboot_$1_total" '$1 == n {print $2}'; }

for ((m = 1; m <= MACHINES; m++)); do
    curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" \
        -d "{\"mac\":\"52:54:00:be:$(printf '%02x:%02x' $((m / 256)) $((m % 256)))\"}" "http://127.0.0.1:$API/api/v1/machines"
done
sleep 1
for ((s = 0; s < STREAMS; s++)); do
    # Eight streams per source address (vboot's per-address cap): 127.0.0.2, .3, ...
    curl -s -N -m 600 --interface "127.0.0.$((2 + s / 8))" -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$API/api/v1/events" >"$WORK/streams/$s" &
    PIDS+=($!)
done
# The reader that never reads: a small receive buffer, the request, then nothing.
python3 - "$API" "$TOKEN" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("127.0.0.250", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {sys.argv[2]}\r\n\r\n".encode())
time.sleep(600)
PY
PIDS+=($!)
sleep 1
echo "streams open: $(gauge event_streams_open) (vboot RSS $(rss) kB before)"

for ((e = 0; e < EVENTS; e++)); do
    m=$((e % MACHINES + 1))
    echo "url = \"http://127.0.0.1:$HTTP/boot.ipxe?mac=52-54-00-be-$(printf '%02x-%02x' $((m / 256)) $((m % 256)))\""
    echo "output = /dev/null"
done >"$WORK/urls"
start=$(date +%s.%N)
curl -s --parallel --parallel-max 16 -K "$WORK/urls" 2>/dev/null &
PIDS+=($!)
peak=0 queued=0 done=0
for ((i = 0; i < 1200; i++)); do
    r=$(rss) q=$(gauge event_streams_queued_bytes)
    ((r > peak)) && peak=$r
    ((q > queued)) && queued=$q
    done=$(cat "$WORK"/streams/* | grep -c "^event: timeline" || true)
    [ "$done" -ge $((STREAMS * EVENTS)) ] && break
    sleep 0.1
done
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "events: $EVENTS script fetches -> $done of $((STREAMS * EVENTS)) deliveries to $STREAMS streams in $took s"
echo "vboot RSS: peak $peak kB; largest queued in all streams: $queued bytes (limit 256 KiB each)"
for ((i = 0; i < 50; i++)); do [ "$(counter event_streams_stalled)" = 1 ] && break; sleep 1; done
echo "the reader that never read: event_streams_stalled_total $(counter event_streams_stalled), streams open $(gauge event_streams_open), vboot RSS $(rss) kB"
