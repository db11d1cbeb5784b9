#!/usr/bin/env bash
# Full DHCP benchmark: vboot --dhcp full against dnsmasq --no-ping, under ISC Kea's perfdhcp (a
# client nobody here wrote; package kea-admin).
#
# Each server runs by hand in a fresh network namespace and is driven from a second one (veth
# pair). perfdhcp plays a relay agent for R distinct clients (giaddr = its address, replies to
# port 67) and starts full DORA exchanges at a fixed rate for P seconds. Both servers keep their
# leases on disk (vboot: SQLite in its data directory; dnsmasq: its lease file). Rates are
# interleaved: at each rate, every server runs once per round, the order alternating by round.
# Needs root. See Benchmarks/README.md.
#
#   sudo Benchmarks/run-dhcp.sh                 # rates 100 500 1000 2000, 10 s, 2 rounds
#   sudo Benchmarks/run-dhcp.sh --quick         # rates 100 1000, 5 s, 1 round
#   options: --rates "100 1000"  --seconds S  --rounds N  --clients R  --servers "vboot dnsmasq"
#            --vboot PATH  --out FILE (also write the table there)  --keep (keep the temp dir)
#            --pin split|same|none (default split: server on CPU 0, perfdhcp on CPU 1)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
RATES="100 500 1000 2000"
SECONDS_PER_RUN=10
ROUNDS=2
CLIENTS=20000
SERVERS="vboot dnsmasq"
VBOOT="${VBOOT:-}"
KEEP=0
PIN=split
OUT=""

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) RATES="100 1000"; SECONDS_PER_RUN=5; ROUNDS=1 ;;
        --rates) RATES="$2"; shift ;;
        --seconds) SECONDS_PER_RUN="$2"; shift ;;
        --rounds|--runs) ROUNDS="$2"; shift ;;
        --clients) CLIENTS="$2"; shift ;;
        --servers) SERVERS="$2"; shift ;;
        --vboot) VBOOT="$2"; shift ;;
        --keep) KEEP=1 ;;
        --out) OUT="$2"; shift ;;
        --pin) PIN="$2"; shift ;;
        -h|--help) sed -n 2,17p "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case "$PIN" in
    split) SRV_PIN=(taskset -c 0); CLI_PIN=(taskset -c 1) ;;
    same) SRV_PIN=(taskset -c 0); CLI_PIN=(taskset -c 0) ;;
    none) SRV_PIN=(); CLI_PIN=() ;;
    *) echo "--pin split|same|none" >&2; exit 2 ;;
esac
[ "$PIN" != split ] || [ "$(nproc)" -ge 2 ] || { echo "--pin split needs 2 CPUs" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, port 67)" >&2; exit 2; }
[ "$CLIENTS" -le 60000 ] || { echo "--clients at most 60000 (the pool holds 60,000 addresses)" >&2; exit 2; }

install_peers() {
    local need_apt=()
    command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
    command -v perfdhcp >/dev/null || need_apt+=(kea-admin)
    command -v curl >/dev/null || need_apt+=(curl)
    if [ ${#need_apt[@]} -gt 0 ]; then
        log "apt-get install ${need_apt[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}" >&2
    fi
}

# Servers in NS_S on SRV_IF (10.250.0.1/16), perfdhcp in NS_C on CLI_IF (10.250.0.2/16); the
# pool is 10.250.1.0 - 10.250.235.95 (60,000 addresses), so every client gets its own.
NS_S="vbdhs$$"
NS_C="vbdhc$$"
SRV_IF="vbdh$$s"
CLI_IF="vbdh$$c"
SRV_IP=10.250.0.1
CLI_IP=10.250.0.2
POOL_FIRST=10.250.1.0
POOL_LAST=10.250.235.95
TMP="$(mktemp -d /tmp/vbdhcp.XXXXXX)"
chmod 755 "$TMP"
SERVER_PID=""
cleanup() {
    stop_server || true
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    [ -z "$CG" ] || rmdir "$CG" 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup() {
    veth_link "$NS_S" "$SRV_IF" "$SRV_IP/16" "$NS_C" "$CLI_IF" "$CLI_IP/16"
}

# A fresh lease store for every run: each run starts from an empty table, as the first run would.
start_server() {
    local name="$1" data="$TMP/$1-data"
    rm -rf "$data"
    mkdir -p "$data"
    chmod 755 "$data"
    case "$name" in
        vboot)
            "${SRV_PIN[@]}" ip netns exec "$NS_S" "$VBOOT" serve --dhcp full --listen "$SRV_IP" --interface "$SRV_IF" \
                --dhcp-range "$POOL_FIRST-$POOL_LAST" --dhcp-netmask 255.255.0.0 --dhcp-lease-time 3600 \
                --boot-scripts "$REPO/boot-scripts" --data-dir "$data" --log-level warning \
                >"$TMP/vboot.log" 2>&1 &
            ;;
        dnsmasq) # --no-ping: no ICMP probe before an offer (vboot sends none); --quiet-dhcp: no log line per packet
            "${SRV_PIN[@]}" ip netns exec "$NS_S" dnsmasq -k --conf-file=/dev/null --port=0 --interface="$SRV_IF" \
                --bind-interfaces --dhcp-range="$POOL_FIRST,$POOL_LAST,255.255.0.0,1h" --dhcp-lease-max=100000 \
                --no-ping --dhcp-leasefile="$data/leases" --quiet-dhcp --log-facility="$TMP/dnsmasq.log" \
                --pid-file= --user=root >"$TMP/dnsmasq.out" 2>&1 &
            ;;
        *) echo "unknown server $name" >&2; return 1 ;;
    esac
    SERVER_PID=$!
    cg_add "$SERVER_PID"
    for _ in $(seq 1 100); do
        if ip netns exec "$NS_S" ss -H -lunp 'sport = :67' | grep -q "pid=$SERVER_PID,"; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start" >&2
    cat "$TMP/$name.log" "$TMP/$name.out" 2>/dev/null | tail -5 >&2 || true
    return 1
}

# perfdhcp's final report, as "offers acks offer_ms ack_ms": received OFFERs and ACKs, and their
# average delays.
summarise() {
    awk '
        /Statistics for: DISCOVER-OFFER/ { s = "o" } /Statistics for: REQUEST-ACK/ { s = "a" }
        /^received packets:/ { r[s] = $3 } /^avg delay:/ { d[s] = $3 }
        END { printf "%d %d %s %s\n", r["o"], r["a"], (d["o"] == "" ? "-" : d["o"]), (d["a"] == "" ? "-" : d["a"]) }'
}

RESULTS="$TMP/results.tsv"
run_all() {
    local rate round server order before after out line
    : >"$RESULTS"
    for rate in $RATES; do
        for round in $(seq 1 "$ROUNDS"); do
            order="$SERVERS"
            [ $((round % 2)) = 1 ] || order=$(echo "$SERVERS" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
            for server in $order; do
                start_server "$server"
                before=$(cpu_ns "$SERVER_PID")
                out="$TMP/perfdhcp-$server-$rate-$round.txt"
                # -W: wait for late answers after the last request; bounded by timeout.
                "${CLI_PIN[@]}" ip netns exec "$NS_C" timeout $((SECONDS_PER_RUN + 30)) perfdhcp -4 \
                    -r "$rate" -R "$CLIENTS" -p "$SECONDS_PER_RUN" -W 2000000 -l "$CLI_IP" "$SRV_IP" >"$out" 2>&1 || true
                after=$(cpu_ns "$SERVER_PID")
                line=$(summarise <"$out")
                log "$server rate $rate round $round: offers acks offer_ms ack_ms = $line"
                printf '%s\t%s\t%s\t%s\t%s\n' "$rate" "$server" "$round" \
                    "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", (a - b) / 1e9 }')" "$line" >>"$RESULTS"
                stop_server
            done
        done
    done
}

report() {
    echo
    echo "Full DHCP under perfdhcp: $CLIENTS clients, $SECONDS_PER_RUN s per run, $ROUNDS round(s) per rate, relayed"
    printf '%-6s %-8s %-18s %-18s %-12s %-12s %-8s\n' "rate/s" "server" "OFFERs (runs)" "ACKs (runs)" "offer ms" "ack ms" "CPU s"
    awk -F'\t' '
        { split($5, f, " "); k = $1 SUBSEP $2; o[k] = o[k] (o[k] == "" ? "" : "/") f[1]; a[k] = a[k] (a[k] == "" ? "" : "/") f[2]
          od[k] = od[k] (od[k] == "" ? "" : "/") f[3]; ad[k] = ad[k] (ad[k] == "" ? "" : "/") f[4]
          c[k] = c[k] (c[k] == "" ? "" : "/") $4; if (!(k in seen)) { seen[k] = 1; keys[n++] = k } }
        END { for (i = 0; i < n; i++) { split(keys[i], p, SUBSEP)
              printf "%-6s %-8s %-18s %-18s %-12s %-12s %-8s\n", p[1], p[2], o[keys[i]], a[keys[i]], od[keys[i]], ad[keys[i]], c[keys[i]] } }' "$RESULTS"
    echo "(each cell: one figure per round; offered = rate x seconds exchanges started)"
}

install_peers
pick_vboot
cg_setup vbdhcp
setup
log "vboot: $VBOOT; work dir $TMP"
run_all
if [ -n "$OUT" ]; then report | tee "$OUT"; else report; fi
