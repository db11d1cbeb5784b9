#!/usr/bin/env bash
# vboot --dhcp full against real DHCP clients: busybox udhcpc and ISC dhclient, each in its own
# network namespace on one bridge with vboot (nothing touches the host's interfaces).
#
#   Tests/e2e/full-dhcp.sh
#
# Checks: addresses and options, reservations, DECLINE quarantine (udhcpc -a finds a squatter),
# RELEASE, pool exhaustion, leases honoured after a restart, and two vboot servers on one
# PostgreSQL never handing one address to two clients.
# Environment: VBOOT (binary, default .build/debug/vboot), E2E_KEEP=1 keeps the work directory.
# Needs root. The last line is "N passed, N failed" (plus ", N skipped" when a part cannot run).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
WORK=$(mktemp -d /tmp/vboot-fulldhcp.XXXXXX)
chmod o+rx "$WORK"
# vboot reads its boot scripts as the vboot user: a copy it can reach wherever the repository is.
cp -r "$ROOT/boot-scripts" "$WORK/boot-scripts"
P=fd$$
NET=10.88.0
PIDS=()
NAMESPACES=()
passed=0 failed=0 skipped=0

pass() { echo "PASS  $*"; passed=$((passed + 1)); }
fail() { echo "FAIL  $*"; failed=$((failed + 1)); }
skip() { echo "SKIP  $*"; skipped=$((skipped + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

cleanup() {
    local pid ns
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    if [ "${E2E_KEEP:-0}" = 1 ] || [ "$failed" != 0 ]; then
        echo "work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$VBOOT" ] || { echo "no vboot binary at $VBOOT"; echo "0 passed, 1 failed"; exit 1; }
command -v busybox >/dev/null && command -v dhclient >/dev/null || {
    echo "needs busybox (udhcpc) and isc-dhcp-client (dhclient)"; echo "0 passed, 1 failed"; exit 1; }

ns() { echo "$P-$1"; }

# host NAME [ADDRESS/24] -> a namespace with eth0 on the bridge; MAC 52:54:00:fd:00:NN from NAME's index
HOSTS=0
host() {
    local name=$1 address=${2:-} n
    n=$(ns "$name")
    ip netns add "$n"
    NAMESPACES+=("$n")
    HOSTS=$((HOSTS + 1))
    MACS[$name]=$(printf '52:54:00:fd:00:%02x' "$HOSTS")
    ip -n "$(ns lan)" link add "v-$name" type veth peer name eth0 netns "$n"
    ip -n "$(ns lan)" link set "v-$name" master br0 up
    ip -n "$n" link set lo up
    ip -n "$n" link set eth0 address "$(mac_of "$name")"
    ip -n "$n" link set eth0 up
    [ -z "$address" ] || ip -n "$n" addr add "$address" dev eth0
}
declare -A MACS=()
mac_of() { echo "${MACS[$1]}"; }

ip netns add "$(ns lan)"
NAMESPACES+=("$(ns lan)")
ip -n "$(ns lan)" link add br0 type bridge
ip -n "$(ns lan)" link set br0 type bridge forward_delay 0 stp_state 0
ip -n "$(ns lan)" link set br0 up

# udhcpc's event script: record what it got, configure the address.
cat >"$WORK/udhcpc.sh" <<'SCRIPT'
#!/bin/sh
case "$1" in
    bound|renew)
        { echo "ip=$ip"; echo "subnet=$subnet"; echo "router=$router"; echo "dns=$dns"; echo "domain=$domain";
          echo "lease=$lease"; echo "serverid=$serverid"; echo "boot_file=$boot_file"; } >"$UDHCPC_OUT"
        ip addr flush dev "$interface"
        ip addr add "$ip/$mask" dev "$interface"
        ;;
    deconfig) ip addr flush dev "$interface" ;;
esac
exit 0
SCRIPT
chmod +x "$WORK/udhcpc.sh"

# udhcpc_once NAME [EXTRA...] -> 0 when it got a lease; writes $WORK/NAME.lease
udhcpc_once() {
    local name=$1; shift
    rm -f "$WORK/$name.lease"
    UDHCPC_OUT="$WORK/$name.lease" timeout 60 ip netns exec "$(ns "$name")" \
        busybox udhcpc -i eth0 -f -q -n -t 4 -T 2 -A 1 -s "$WORK/udhcpc.sh" -x "hostname:$name" "$@" \
        >"$WORK/$name.udhcpc.log" 2>&1
}
lease_value() { [ -f "$WORK/$1.lease" ] || return 0; sed -n "s/^$2=//p" "$WORK/$1.lease" | head -n 1; }

TOKEN=0123456789abcdef0123456789abcdef
api() { # api METHOD PATH [JSON] (from the server namespace: the API listens on its loopback only)
    local args=(-s -m 5 -X "$1" -H "Authorization: Bearer $TOKEN")
    [ $# -lt 3 ] || args+=(-H "Content-Type: application/json" -d "$3")
    ip netns exec "$(ns srv)" curl "${args[@]}" "http://127.0.0.1:8081/api/v1$2"
}

# start_vboot NAME IP DATA [EXTRA...] -> pid in VBOOT_PID
start_vboot() {
    local name=$1 address=$2 data=$3; shift 3
    mkdir -p "$data"
    echo "$TOKEN" >"$data/api-token"
    ip netns exec "$(ns "$name")" "$VBOOT" serve --dhcp full --listen "$address" --interface eth0 \
        --dhcp-router "$NET.1" --dhcp-dns "$NET.1" --dhcp-domain lab.test --dhcp-lease-time 600 \
        --boot-scripts "$WORK/boot-scripts" --data-dir "$data" --http-port 8080 --tftp-port 69 \
        --log-level debug "$@" >>"$WORK/$name.log" 2>&1 &
    VBOOT_PID=$!
    PIDS+=("$VBOOT_PID")
    local i
    for ((i = 0; i < 60; i++)); do
        if ip netns exec "$(ns "$name")" curl -s -m 1 -o /dev/null "http://$address:8080/health"; then return 0; fi
        sleep 0.25
    done
    echo "vboot $name did not come up:" >&2
    tail -n 20 "$WORK/$name.log" >&2
    return 1
}
# exhausted_count NAME: how often vboot logged NAME's requests as refused for an exhausted pool
exhausted_count() { grep -ciE -- "$(mac_of "$1")[^ ]* [A-Z]+: the pool is exhausted" "$WORK/srv.log" || true; }
# refused_by_live_server GOT NAME BEFORE: NAME got no address (GOT=0) because vboot refused it,
# not because vboot is gone: the log has a new "pool is exhausted" line for NAME (BEFORE is the
# count before the request), and vboot is still running and hands c3 its reservation right after.
refused_by_live_server() {
    [ "$1" = 0 ] || { echo "      $2 got an address: $(lease_value "$2" ip)"; return 1; }
    local after; after=$(exhausted_count "$2")
    [ "$after" -gt "$3" ] || { echo "      vboot logged no exhausted pool for $2 (before $3, after $after)"; return 1; }
    kill -0 "$SRV" 2>/dev/null || { echo "      vboot (pid $SRV) is not running"; return 1; }
    udhcpc_once c3 || true
    [ "$(lease_value c3 ip)" = "$NET.50" ] || { echo "      vboot did not answer c3 (reserved $NET.50) right after"; return 1; }
}
stop_vboot() { kill "$1" 2>/dev/null || true; local i; for ((i = 0; i < 40; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.25; done; kill -KILL "$1" 2>/dev/null || true; }

host srv "$NET.2/24"
for name in c1 c2 c3 c4 c5 squat; do host "$name"; done
start_vboot srv "$NET.2" "$WORK/data" --dhcp-range "$NET.100-$NET.103"
SRV=$VBOOT_PID

# --- a squatter holds the first pool address without asking: udhcpc -a must DECLINE it
ip -n "$(ns squat)" addr add "$NET.100/24" dev eth0
udhcpc_once c1 -a 2>/dev/null || true
got=$(lease_value c1 ip)
check "udhcpc: DECLINE of $NET.100 (in use by a squatter) and a lease on another address ($got)" \
    test -n "$got" -a "$got" != "$NET.100"
leases=$(api GET /leases)
check "the declined address is quarantined in the lease table" \
    python3 -c 'import json,sys; l={x["address"]:x for x in json.load(sys.stdin)["leases"]}; a=l.get(sys.argv[1]); sys.exit(0 if a and a["state"]=="declined" and a["active"] else 1)' \
    "$NET.100" <<<"$leases"
check "udhcpc: options router, dns, domain, lease time, server id" \
    test "$(lease_value c1 router)" = "$NET.1" -a "$(lease_value c1 dns)" = "$NET.1" -a \
    "$(lease_value c1 domain)" = lab.test -a "$(lease_value c1 lease)" = 600 -a "$(lease_value c1 serverid)" = "$NET.2"

# --- dhclient
timeout 40 ip netns exec "$(ns c2)" dhclient -v -1 -lf "$WORK/c2.leases" -pf "$WORK/c2.pid" eth0 >"$WORK/c2.dhclient.log" 2>&1 || true
c2ip=$(ip -n "$(ns c2)" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -n 1)
check "dhclient: bound $c2ip, distinct from udhcpc's $got" test -n "$c2ip" -a "$c2ip" != "$got"
dhlease=$(cat "$WORK/c2.leases" 2>/dev/null || true)
check "dhclient: lease file has routers, domain-name and vboot as server" \
    grep -E "option routers $NET.1;" <<<"$dhlease" >/dev/null
[ -f "$WORK/c2.pid" ] && PIDS+=("$(cat "$WORK/c2.pid")")

# --- reservation from the inventory
api POST /machines "{\"mac\": \"$(mac_of c3)\", \"hostname\": \"c3\", \"address\": \"$NET.50\"}" >/dev/null
udhcpc_once c3 || true
check "reservation: c3 gets its reserved $NET.50 (outside the dynamic range)" test "$(lease_value c3 ip)" = "$NET.50"

# --- last pool address, then exhaustion
# udhcpc -R releases on exit (SIGTERM), not after -q: keep it running, then stop it.
rm -f "$WORK/c4.lease"
UDHCPC_OUT="$WORK/c4.lease" ip netns exec "$(ns c4)" busybox udhcpc -i eth0 -f -R -t 4 -T 2 -A 1 \
    -s "$WORK/udhcpc.sh" >"$WORK/c4.udhcpc.log" 2>&1 &
c4pid=$!
PIDS+=("$c4pid")
for ((i = 0; i < 40; i++)); do [ -s "$WORK/c4.lease" ] && break; sleep 0.25; done
c4ip=$(lease_value c4 ip)
kill -TERM "$c4pid" 2>/dev/null || true
wait "$c4pid" 2>/dev/null || true
sleep 0.5
check "udhcpc: c4 gets the last free pool address ($c4ip)" test -n "$c4ip"
leases=$(api GET /leases)
check "RELEASE (udhcpc -R): c4's lease is released in the table" \
    python3 -c 'import json,sys; l={x["address"]:x for x in json.load(sys.stdin)["leases"]}; a=l.get(sys.argv[1]); sys.exit(0 if a and a["state"]=="released" and not a["active"] else 1)' \
    "$c4ip" <<<"$leases"
udhcpc_once c4 || true
check "udhcpc: c4 takes the last pool address again ($(lease_value c4 ip))" test "$(lease_value c4 ip)" = "$c4ip"
before=$(exhausted_count c5)
udhcpc_once c5 && c5got=1 || c5got=0
check "exhausted pool: c5 gets no address (c1, c2, c4 and the quarantined one hold all four)" \
    refused_by_live_server "$c5got" c5 "$before"
out=$(grep -c "the pool is exhausted" "$WORK/srv.log" || true)
check "vboot logs the exhausted pool" test "$out" -gt 0

# --- restart: the lease table survives, c1 gets its address back, c5 still nothing
stop_vboot "$SRV"
start_vboot srv "$NET.2" "$WORK/data" --dhcp-range "$NET.100-$NET.103"
SRV=$VBOOT_PID
udhcpc_once c1 -r "$got" || true
check "after a restart: c1 gets its address $got again" test "$(lease_value c1 ip)" = "$got"
before=$(exhausted_count c5)
udhcpc_once c5 && c5got=1 || c5got=0
check "after a restart: leases are honoured, c5 still gets nothing" refused_by_live_server "$c5got" c5 "$before"
stop_vboot "$SRV"

# --- two servers, one PostgreSQL, one pool: never an address twice
# Over the Unix socket: the servers run in namespaces without a route to the host's loopback.
if DBURL=$(VBOOT_PG_SOCKET=1 VBOOT_TEST_DB=vboot_e2e_fulldhcp "$ROOT/Tests/lib/postgres-up.sh" 2>"$WORK/postgres.log"); then
    host srv2 "$NET.3/24"
    for i in $(seq 1 12); do host "m$i"; done
    start_vboot srv "$NET.2" "$WORK/pg-a" --dhcp-range "$NET.150-$NET.159" --database "$DBURL"
    start_vboot srv2 "$NET.3" "$WORK/pg-b" --dhcp-range "$NET.150-$NET.159" --database "$DBURL"
    start=$(date +%s%N)
    clients=()
    # Two servers answering every DISCOVER means NAKs when both offered one address to two
    # clients: more attempts, so every client that can get an address gets one.
    for i in $(seq 1 12); do
        udhcpc_once "m$i" -t 10 &
        clients+=($!)
    done
    for j in "${clients[@]}"; do wait "$j" || true; done
    ms=$((($(date +%s%N) - start) / 1000000))
    addrs=$(for i in $(seq 1 12); do lease_value "m$i" ip; done | sed '/^$/d')
    count=$(wc -l <<<"$addrs"); unique=$(sort -u <<<"$addrs" | wc -l)
    servers=$(for i in $(seq 1 12); do lease_value "m$i" serverid; done | sort | uniq -c | paste -sd' ' -)
    check "two servers, one PostgreSQL: 12 clients at once on a 10-address pool -> $count leases, $unique distinct, served by [$servers] in $ms ms" \
        test "$count" = 10 -a "$unique" = 10
else
    skip "two servers on PostgreSQL: $(tail -n 1 "$WORK/postgres.log")"
fi

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
