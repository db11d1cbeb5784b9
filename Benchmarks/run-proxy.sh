#!/usr/bin/env bash
# proxyDHCP benchmark: vboot against dnsmasq, under a PXE boot storm.
#
# Runs each server by hand, in the foreground, in a network namespace of its own, both at once,
# and drives them from a third namespace (a veth pair to each) with Benchmarks/pxe-storm.c, the
# servers taking turns run by run (interleaved: drift in the machine's load falls on both).
# Needs root (network namespaces, ports 67 and 4011). See Benchmarks/README.md.
#
#   sudo Benchmarks/run-proxy.sh            # 3 runs of 5 s per cell
#   sudo Benchmarks/run-proxy.sh --quick    # 1 run of 1 s per cell
#   options: --runs N  --duration S  --warmup S  --ramp S  --servers "vboot dnsmasq"
#            --kinds "uefi ipxe request4011"  (also: mix)   --outstanding "1 64 256"
#            --macs N  --mode relay|broadcast  --vboot PATH  --out FILE (also write the table
#            there)  --keep (keep the temp dir)
#            --pin split|same|none  CPU placement: split (default) = server on CPU 0, client on
#                 CPU 1 (every request crosses CPUs, as from a remote client); same = both on
#                 CPU 0; none = leave it to the scheduler.
#            --quiet-wait S  before each run, wait up to S seconds (default 60) for other
#                 processes to use less than 20% of a CPU (shared machines); 0 = do not wait.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
RUNS=3
DURATION=5
WARMUP=1.5
RAMP=0.5
SERVERS="vboot dnsmasq"
KINDS="uefi ipxe request4011"
LEVELS="1 64 256"
MACS=4096
MODE=relay
VBOOT="${VBOOT:-}"
OUT=""
KEEP=0
PIN="split"
TIMEOUT_MS=1000
QUIET_WAIT=60

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) RUNS=1; DURATION=1; WARMUP=1 ;;
        --runs) RUNS="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --warmup) WARMUP="$2"; shift ;;
        --ramp) RAMP="$2"; shift ;;
        --servers) SERVERS="$2"; shift ;;
        --kinds) KINDS="$2"; shift ;;
        --outstanding) LEVELS="$2"; shift ;;
        --macs) MACS="$2"; shift ;;
        --mode) MODE="$2"; shift ;;
        --vboot) VBOOT="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --keep) KEEP=1 ;;
        --pin) PIN="$2"; shift ;;
        --quiet-wait) QUIET_WAIT="$2"; shift ;;
        -h|--help) sed -n 2,19p "$0"; exit 0 ;;
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
case "$MODE" in relay|broadcast) ;; *) echo "--mode relay|broadcast" >&2; exit 2 ;; esac
[ "$PIN" != split ] || [ "$(nproc)" -ge 2 ] || { echo "--pin split needs 2 CPUs" >&2; exit 2; }

[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, ports 67 and 4011)" >&2; exit 2; }

# --- peers -----------------------------------------------------------------------------------
# dnsmasq from dnsmasq-base (no service); vboot offers Debian's ipxe.efi to UEFI clients.
install_peers() {
    local need_apt=()
    command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
    [ -f /usr/lib/ipxe/ipxe.efi ] || need_apt+=(ipxe)
    command -v curl >/dev/null || need_apt+=(curl)
    if [ ${#need_apt[@]} -gt 0 ]; then
        log "apt-get install ${need_apt[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}" >&2
    fi
}

# --- namespaces, client ---------------------------------------------------------------------------
# Each server in a namespace of its own (NS_S[name]) on SRV_IF[name] (10.254.K.1/24), the client
# in NS_C on CLI_IF[name] (10.254.K.2/24), one veth pair per server, so both servers run for the
# whole benchmark and the client turns from one to the other between runs. Not loopback: dnsmasq
# does no DHCP on a loopback interface, and between two addresses of one namespace the kernel
# routes through lo, past vboot's sockets, which are bound to their interface (SO_BINDTODEVICE).
NS_C="vbpxc$$"
declare -A NS_S SRV_IF CLI_IF SRV_IP CLI_IP PID
K=0
for server in $SERVERS; do
    NS_S[$server]="vbpx$K$$"
    SRV_IF[$server]="vbpx$K$$s"
    CLI_IF[$server]="vbpx$K$$c"
    SRV_IP[$server]="10.254.$K.1"
    CLI_IP[$server]="10.254.$K.2"
    K=$((K + 1))
done
TMP="$(mktemp -d /tmp/vbproxy.XXXXXX)"
chmod 755 "$TMP" # vboot, started as root, reads it as the vboot user
# The simulated machines share one source address: lift vboot's per-address caps (README:
# Security, Limits), or the benchmark measures the caps instead of the server.
BENCH_LIMITS=(--max-tftp-transfers-per-address 4096 --max-http-connections-per-client 100000)
cleanup() {
    local server
    for server in "${!PID[@]}"; do SERVER_PID="${PID[$server]}"; stop_server || true; done
    for server in $SERVERS; do ip netns del "${NS_S[$server]}" 2>/dev/null || true; done
    ip netns del "$NS_C" 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup() {
    local server
    for server in $SERVERS; do
        veth_link "${NS_S[$server]}" "${SRV_IF[$server]}" "${SRV_IP[$server]}/24" "$NS_C" "${CLI_IF[$server]}" "${CLI_IP[$server]}/24"
    done
    mkdir -p "$TMP/vboot-data"
    chmod 755 "$TMP"
    cc -O2 -Wall -Wextra -Werror -o "$TMP/pxe-storm" "$HERE/pxe-storm.c"
}

nss() { local server="$1"; shift; ip netns exec "${NS_S[$server]}" "$@"; }

# --- servers -------------------------------------------------------------------------------------
# Equivalent answers from both: UEFI PXE gets ipxe.efi in the OFFER, iPXE gets an HTTP script URL,
# and a port 4011 REQUEST for boot item 0x8000 gets an ACK naming ipxe.efi.
#
# dnsmasq: `--pxe-service` enables its PXE code and, as the first service with a file name, is
# boot server type 0x8000, which answers the port 4011 REQUEST. It is declared for CSA BC_EFI (9),
# not x86-64_EFI (7, what EDK2 sends): with a service for the client's own architecture dnsmasq
# 2.90 leaves the file out of the OFFER on purpose and sends UEFI clients to port 4011 instead
# ("pxe_uefi_workaround"); without one it puts the `--dhcp-boot` file in the OFFER, as vboot does.
start_server() {
    local name="$1" ns="${NS_S[$1]}" ip="${SRV_IP[$1]}" dev="${SRV_IF[$1]}" pid
    case "$name" in
        vboot)
            "${SRV_PIN[@]}" ip netns exec "$ns" "$VBOOT" serve "${BENCH_LIMITS[@]}" --dhcp proxy --listen "$ip" --interface "$dev" \
                --ipxe-dir /usr/lib/ipxe --boot-scripts "$REPO/boot-scripts" --data-dir "$TMP/vboot-data" \
                --log-level warning >"$TMP/vboot.log" 2>&1 &
            ;;
        dnsmasq)    # single process; --quiet-dhcp: no log line per packet (vboot logs at warning)
            "${SRV_PIN[@]}" ip netns exec "$ns" dnsmasq -k --conf-file=/dev/null --port=0 --interface="$dev" \
                --bind-interfaces --dhcp-range="$ip,proxy" --pxe-service=BC_EFI,"vboot",ipxe.efi \
                --dhcp-userclass=set:ipxe,iPXE --dhcp-boot=tag:ipxe,"http://$ip:8080/boot.ipxe" --dhcp-boot=tag:!ipxe,ipxe.efi \
                --quiet-dhcp --log-facility="$TMP/dnsmasq.log" --pid-file= --user=nobody >"$TMP/dnsmasq.out" 2>&1 &
            ;;
        *) echo "unknown server $name" >&2; return 1 ;;
    esac
    pid=$!   # not via a shell function: ip netns exec execs the server, so this is its PID
    PID[$name]="$pid"
    for _ in $(seq 1 100); do
        if nss "$name" ss -H -lunp 'sport = :4011' | grep -q "pid=$pid," &&
            nss "$name" ss -H -lunp 'sport = :67' | grep -q "pid=$pid,"; then return 0; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start" >&2
    cat "$TMP/$name.log" "$TMP/$name.out" 2>/dev/null | tail -5 >&2 || true
    return 1
}

# Busy CPU time of the whole machine in ns (user, system, irq, softirq; not steal), to see load
# from other processes: what the server and the client did not use (within a few % of 0 on a
# quiet machine).
machine_busy_ns() { awk -v t="$TICKS" '/^cpu / { printf "%.0f\n", ($2 + $3 + $4 + $7 + $8) * 1e9 / t }' /proc/stat; }
# CPU time of both servers in ns (each one process; /proc/PID/stat).
servers_cpu_ns() { local server sum=0; for server in "${!PID[@]}"; do sum=$((sum + $(cpu_ns "${PID[$server]}"))); done; echo "$sum"; }
# Before a run: wait (at most QUIET_WAIT s) until processes other than the servers (vboot may still
# be writing the last run's timeline) use less than 20% of a CPU.
wait_quiet() {
    local waited=0 a b sa sb busy
    while true; do
        a=$(machine_busy_ns); sa=$(servers_cpu_ns); sleep 0.5; b=$(machine_busy_ns); sb=$(servers_cpu_ns)
        busy=$(( (b - a - (sb - sa)) / 5000000 ))   # percent of one CPU
        if [ "$busy" -lt 20 ]; then break; fi
        if [ "$waited" -ge "$QUIET_WAIT" ]; then log "machine still busy ($busy% of a CPU); running anyway"; break; fi
        [ "$waited" -gt 0 ] || log "machine busy ($busy% of a CPU used by other processes); waiting"
        sleep 2; waited=$((waited + 2))
    done
}
# Peak RSS: reset VmHWM before a cell (clear_refs 5), read it after.
hwm_reset() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }
# UDP datagrams the kernel dropped in the server namespace: socket receive buffer full.
# shellcheck disable=SC2016
udp_drops() { nss "$1" awk '/^Udp:/ && $2 ~ /^[0-9]/ { print $6 }' /proc/net/snmp; }
# vboot's counters, one "name value" a line.
vboot_metrics() {
    nss vboot curl -s -m 5 "http://127.0.0.1:8081/metrics" 2>/dev/null | sed -n 's/^vboot_\(.*\)_total \([0-9]*\)$/\1 \2/p' || true
}

# --- runs ----------------------------------------------------------------------------------------
RESULTS="$TMP/results.tsv"
COUNTERS="$TMP/counters.tsv"

storm_args() {
    local server="$1" kind="$2" c="$3"
    local args=(-H "${SRV_IP[$server]}" -B "${CLI_IP[$server]}" -k "$kind" -c "$c" -n "$MACS" -d "$DURATION" -W "$WARMUP" -R "$RAMP" -t "$TIMEOUT_MS")
    [ "$MODE" = relay ] || args+=(-m broadcast -I "${CLI_IF[$server]}")
    echo "${args[@]}"
}

# Both servers run throughout; for each cell, RUNS rounds, each round one run per server, the
# order reversing round by round.
run_all() {
    local server kind c run order line before after mb_before mb_after d_before d_after m_before m_after
    : >"$RESULTS"
    : >"$COUNTERS"
    for server in $SERVERS; do
        start_server "$server"
        log "$server: PID ${PID[$server]}, ${SRV_IP[$server]} in ${NS_S[$server]}"
        # One short unrecorded storm: first-use costs (page faults, lazy initialisation) out of the way.
        # shellcheck disable=SC2046
        "${CLI_PIN[@]}" ip netns exec "$NS_C" "$TMP/pxe-storm" $(storm_args "$server" mix 16 | sed 's/-d [0-9.]*/-d 1/') \
            >/dev/null 2>&1 || true
    done
    for kind in $KINDS; do
        for c in $LEVELS; do
            for server in $SERVERS; do
                hwm_reset "${PID[$server]}"
                [ "$server" != vboot ] || m_before=$(vboot_metrics)
            done
            for run in $(seq 1 "$RUNS"); do
                order="$SERVERS"
                [ $((run % 2)) = 1 ] || order=$(awk '{ for (j = NF; j >= 1; j--) printf "%s%s", $j, (j > 1 ? " " : "") }' <<<"$SERVERS")
                for server in $order; do
                    [ "$QUIET_WAIT" = 0 ] || wait_quiet
                    before=$(cpu_ns "${PID[$server]}"); mb_before=$(machine_busy_ns); d_before=$(udp_drops "$server")
                    # shellcheck disable=SC2046
                    line=$("${CLI_PIN[@]}" ip netns exec "$NS_C" "$TMP/pxe-storm" $(storm_args "$server" "$kind" "$c") || true)
                    after=$(cpu_ns "${PID[$server]}"); mb_after=$(machine_busy_ns); d_after=$(udp_drops "$server")
                    log "$server $kind x$c run $run: $line"
                    # kind c server run cpu_s machine_busy_s drops rest-of-line
                    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$c" "$server" "$run" \
                        "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", (a - b) / 1e9 }')" \
                        "$(awk -v a="$mb_after" -v b="$mb_before" 'BEGIN { printf "%.3f", (a - b) / 1e9 }')" \
                        "$((d_after - d_before))" "$line" >>"$RESULTS"
                done
            done
            for server in $SERVERS; do
                printf 'rss\t%s\t%s\t%s\t%s\n' "$kind" "$c" "$server" "$(hwm_kib "${PID[$server]}")" >>"$RESULTS"
                [ "$server" = vboot ] || continue
                m_after=$(vboot_metrics)
                # Per cell: counter deltas.
                awk -v cell="$kind x$c" 'NR == FNR { b[$1] = $2; next } { printf "%s\t%s\t%d\n", cell, $1, $2 - b[$1] }' \
                    <(echo "$m_before") <(echo "$m_after") >>"$COUNTERS"
            done
        done
    done
}

report() {
    local date cpu_model
    date=$(date -u +%Y-%m-%d)
    cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
    {
        echo "proxyDHCP benchmark $date: ${RUNS} run(s) of ${DURATION} s (after ${WARMUP} s warm-up) per cell, requests opened over ${RAMP} s, $MACS MACs, mode $MODE, $(nproc) CPUs ($cpu_model), kernel $(uname -r)"
        echo "vboot: $VBOOT; dnsmasq: $(dnsmasq --version | head -1 | awk '{ print $3 }'); CPU pinning: $PIN"
        echo "answers/s: valid replies per second; latency in us (median over runs; max: the largest); err/t-o: wrong replies / requests unanswered after ${TIMEOUT_MS} ms; drops: datagrams the server's kernel dropped (receive buffer full); CPU: server user+sys per run and per request"
        echo
        awk -F'\t' -v kinds="$KINDS" -v levels="$LEVELS" -v servers="$SERVERS" '
        function kv(line, key,   m) { if (match(line, "(^| )" key "=[^ ]*")) { m = substr(line, RSTART, RLENGTH); sub(/^ /, "", m); sub(/^[^=]*=/, "", m); return m } return "" }
        function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
        function median(arr, k, n,   a, j) { delete a; for (j = 1; j <= n; j++) a[j] = arr[k, j]; sortn(a, n); return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        function lo(arr, k, n,   j, m) { m = arr[k, 1]; for (j = 2; j <= n; j++) if (arr[k, j] < m) m = arr[k, j]; return m }
        function hi(arr, k, n,   j, m) { m = arr[k, 1]; for (j = 2; j <= n; j++) if (arr[k, j] > m) m = arr[k, j]; return m }
        BEGIN { nk = split(kinds, kl, " "); nl = split(levels, ll, " "); nv = split(servers, sv, " ") }
        $1 == "rss" { rss[$2, $3, $4] = $5 + 0; next }
        {
            k = $1 SUBSEP $2 SUBSEP $3; line = $8
            i = ++n[k]
            rate[k, i] = kv(line, "rate") + 0
            p50[k, i] = kv(line, "p50_us") + 0; p90[k, i] = kv(line, "p90_us") + 0; p99[k, i] = kv(line, "p99_us") + 0
            mx = kv(line, "max_us") + 0; if (mx > pmax[k]) pmax[k] = mx
            err[k] += kv(line, "errors"); to[k] += kv(line, "timeouts"); drops[k] += $7
            cpu[k] += $5; sent[k] += kv(line, "sent"); ccpu[k] += kv(line, "client_cpu")
            bg = $6 - $5 - kv(line, "client_cpu"); secs = kv(line, "seconds") + '"$WARMUP"'
            if (secs > 0) {
                bgpct = 100 * bg / secs; if (bgpct > bgmax) bgmax = bgpct; bgsum += bgpct; bgn++
                if (bgpct > cellbg[k]) cellbg[k] = bgpct
            }
            fe = kv(line, "first_error"); if (fe != "\"\"" && fe != "" && !(k in first)) first[k] = line
        }
        END {
            printf "%-18s %-8s %-25s %-7s %-6s %-6s %-6s %-7s %-7s %-10s %-6s %-6s %-7s %s\n", "scenario", "server", "answers/s median", "vboot/", "p50", "p90", "p99", "max", "p50", "err/t-o", "drops", "CPU s", "CPU", "max RSS"
            printf "%-18s %-8s %-25s %-7s %-6s %-6s %-6s %-7s %-7s %-10s %-6s %-6s %-7s %s\n", "", "", "(min-max)", "dnsmasq", "us", "us", "us", "us", "vboot/", "", "", "/run", "us/req", "MiB"
            printf "%-18s %-8s %-25s %-7s %-6s %-6s %-6s %-7s %-7s %-10s %-6s %-6s %-7s %s\n", "", "", "", "", "", "", "", "", "dnsmasq", "", "", "", "", ""
            for (a = 1; a <= nk; a++) for (b = 1; b <= nl; b++) {
                kd = kl[a] SUBSEP ll[b] SUBSEP "dnsmasq"; kb = kl[a] SUBSEP ll[b] SUBSEP "vboot"
                for (i = 1; i <= nv; i++) {
                    k = kl[a] SUBSEP ll[b] SUBSEP sv[i]; if (!n[k]) continue
                    m = median(rate, k, n[k])
                    ratio = ""; pratio = ""
                    if (sv[i] == "vboot" && n[kd]) {
                        md = median(rate, kd, n[kd]); if (md > 0) ratio = sprintf("%.2fx", m / md)
                        pd = median(p50, kd, n[kd]); if (pd > 0) pratio = sprintf("%.2fx", median(p50, k, n[k]) / pd)
                    }
                    note = cellbg[k] > 40 ? sprintf(" [busy machine: %.0f%% of a CPU used by others]", cellbg[k]) : ""
                    printf "%-18s %-8s %-25s %-7s %-6d %-6d %-6d %-7d %-7s %-10s %-6d %-6.2f %-7.1f %.1f%s\n",
                        kl[a] " x" ll[b], sv[i], sprintf("%.0f (%.0f-%.0f)", m, lo(rate, k, n[k]), hi(rate, k, n[k])), ratio,
                        median(p50, k, n[k]), median(p90, k, n[k]), median(p99, k, n[k]), pmax[k], pratio,
                        err[k] "/" to[k], drops[k], cpu[k] / n[k], (sent[k] > 0 ? 1e6 * cpu[k] / sent[k] : 0),
                        rss[kl[a], ll[b], sv[i]] / 1024, note
                }
            }
            if (bgn) printf "\nmachine CPU not used by server or client (other processes, and kernel network work charged to neither) during the runs: mean %.0f%%, max %.0f%% of one CPU\n", bgsum / bgn, bgmax
            for (k in first) { split(k, p, SUBSEP); printf "first error (%s x%s, %s): %s\n", p[1], p[2], p[3], first[k] }
        }' "$RESULTS"
        if [ -s "$COUNTERS" ]; then
            echo
            echo "vboot counters per cell (deltas over the cell's runs; /metrics):"
            awk -F'\t' '
                { if (!($1 in seen)) { seen[$1] = 1; order[++nc] = $1 } v[$1, $2] = $3; names[$2] = 1 }
                END {
                    split("dhcp_packets_received dhcp_replies_sent dhcp_silent dhcp_packets_malformed dhcp_socket_errors timeline_events_recorded timeline_events_dropped", cols, " ")
                    printf "%-18s", "cell"; for (j = 1; j <= 7; j++) { h = cols[j]; sub(/^dhcp_/, "", h); printf " %-16s", h }; printf "\n"
                    for (i = 1; i <= nc; i++) { printf "%-18s", order[i]; for (j = 1; j <= 7; j++) printf " %-16d", v[order[i], cols[j]]; printf "\n" }
                }' "$COUNTERS"
        fi
    } | tee ${OUT:+"$OUT"}
}

install_peers
pick_vboot
setup
log "namespaces ${NS_S[*]} (servers) and $NS_C (client), temp $TMP, vboot $VBOOT, ${RUNS}x${DURATION}s, kinds $KINDS, outstanding $LEVELS, pin $PIN, mode $MODE"
run_all
report
