#!/usr/bin/env bash
# Boot-storm benchmark: N machines run the whole boot chain at once (proxyDHCP OFFER, TFTP size
# probe and ipxe.efi download as EDK2 does them, iPXE's DHCP, the per-machine boot script and a
# kernel and initrd over HTTP), driven by Benchmarks/boot-storm.c, against vboot and against the
# stack sites run today: dnsmasq (proxyDHCP + TFTP) and nginx (per-machine scripts as static
# files, assets), both from Debian's packages. The servers alternate run by run (interleaved).
#
# The servers run in one network namespace, the clients in another, joined by a veth pair (dnsmasq
# does no DHCP on a loopback interface). Each server is started fresh for each run and stopped by
# PID. Needs root (namespaces, ports 67, 69 and 8080). See Benchmarks/README.md.
#
#   sudo Benchmarks/run-storm.sh              # N=100 (8+32 MiB), 500 (2+8), 1000 (1+4), 3 runs each
#   sudo Benchmarks/run-storm.sh --quick      # N=50, 1 run
#   sudo Benchmarks/run-storm.sh --minutes 10 # memory flatness: vboot, storms of N=100 back to back
#   options: --clients "100 500 1000"  --runs N  --servers "vboot stack"
#            --kernel-mib K --initrd-mib I (default: by N)
#            --stagger MS (between client starts; default 0 = all at once)  --deadline S (300)
#            --minutes M (1..60; only the memory run)  --mem-clients N (100)
#            --vboot PATH  --vboot-env "VAR=VALUE ..." (extra environment for vboot)
#            --out FILE (also write the report there)  --keep (keep the temp dir)
#            --capture FILE (tcpdump of the machines' side of each storm into FILE: the last run's stays;
#                            the input of vboot trace's offline decode figure, Benchmarks/README.md)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
CLIENTS="100 500 1000"
RUNS=3
SERVERS="vboot stack"
KERNEL_MIB=""
INITRD_MIB=""
STAGGER=0
DEADLINE=300
MINUTES=0
MEM_CLIENTS=100
VBOOT="${VBOOT:-}"
VBOOT_ENV=""
OUT=""
CAPTURE=""
KEEP=0

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) CLIENTS=50; RUNS=1 ;;
        --clients) CLIENTS="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
        --servers) SERVERS="$2"; shift ;;
        --kernel-mib) KERNEL_MIB="$2"; shift ;;
        --initrd-mib) INITRD_MIB="$2"; shift ;;
        --stagger) STAGGER="$2"; shift ;;
        --deadline) DEADLINE="$2"; shift ;;
        --minutes) MINUTES="$2"; shift ;;
        --mem-clients) MEM_CLIENTS="$2"; shift ;;
        --vboot) VBOOT="$2"; shift ;;
        --vboot-env) VBOOT_ENV="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --capture) CAPTURE="$2"; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n 2,20p "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

inrange() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
for n in $CLIENTS $MEM_CLIENTS; do inrange "$n" 1 1000 || { echo "clients: 1..1000" >&2; exit 2; }; done
inrange "$RUNS" 1 20 || { echo "--runs 1..20" >&2; exit 2; }
inrange "$MINUTES" 0 60 || { echo "--minutes 0..60" >&2; exit 2; }
inrange "$DEADLINE" 10 3600 || { echo "--deadline 10..3600" >&2; exit 2; }
inrange "$STAGGER" 0 10000 || { echo "--stagger 0..10000 (ms)" >&2; exit 2; }
for m in $KERNEL_MIB $INITRD_MIB; do inrange "$m" 1 1024 || { echo "sizes: 1..1024 MiB" >&2; exit 2; }; done
for s in $SERVERS; do case "$s" in vboot|stack) ;; *) echo "--servers: vboot stack" >&2; exit 2 ;; esac; done
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, ports 67, 69, 8080)" >&2; exit 2; }

# Debian's ipxe package only installs files (no service); dnsmasq from dnsmasq-base (no service
# either); nginx as need_nginx (lib/common.sh) fetches it.
IPXE_EFI=/usr/lib/ipxe/ipxe.efi
install_peers() {
    local need_apt=()
    [ -f "$IPXE_EFI" ] || need_apt+=(ipxe)
    command -v curl >/dev/null || need_apt+=(curl)
    [[ " $SERVERS " != *" stack "* ]] || command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
    if [ ${#need_apt[@]} -gt 0 ]; then
        log "apt-get install ${need_apt[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}" >&2
    fi
    [ -f "$IPXE_EFI" ] || { echo "no $IPXE_EFI" >&2; exit 2; }
    if [[ " $SERVERS " == *" stack "* ]]; then
        need_nginx
        DNSMASQ_VERSION=$(dnsmasq --version | awk 'NR == 1 { print $3 }')
    fi
}

# --- namespaces, files, client -------------------------------------------------------------------
# Servers in NS_S on SRV_IF (10.254.0.1/24), the machines in NS_C on CLI_IF (10.254.0.2/24),
# joined by a veth pair. Machine i sends from its own address 10.77.X.Y (boot-storm
# --client-net): NS_C holds 10.77.0.0/16 as local addresses, NS_S routes it through 10.254.0.2,
# and both neighbours are static, so no ARP happens during a run.
NS_S="vbsts$$"
NS_C="vbstc$$"
SRV_IF="vbst$$s"
CLI_IF="vbst$$c"
SRV_IP=10.254.0.1
CLI_IP=10.254.0.2
CLIENT_NET=10.77
TMP="$(mktemp -d /tmp/vbstorm.XXXXXX)"
chmod 755 "$TMP" # vboot, started as root, reads it as the vboot user; dnsmasq and nginx as nobody
# Every machine has its own source address, but the benchmark is about the servers, not about
# vboot's per-address caps (README: Security, Limits): lift them.
BENCH_LIMITS=(--max-tftp-transfers-per-address 4096 --max-http-connections-per-client 100000)
# dnsmasq's --tftp-max defaults to 50 transfers at once: give it vboot's limit (1,024), so that
# the storm compares TFTP engines, not a default. Its other settings stay Debian's.
DNSMASQ_TFTP_MAX=1024
SERVER_PIDS=()
SAMPLER_PID=""
cleanup() {
    stop_sampler || true
    stop_servers || true
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
    [ -z "$CG" ] || rmdir "$CG" 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nss() { ip netns exec "$NS_S" "$@"; }

setup() {
    veth_link "$NS_S" "$SRV_IF" "$SRV_IP/24" "$NS_C" "$CLI_IF" "$CLI_IP/24"
    ip -n "$NS_C" route add local "$CLIENT_NET.0.0/16" dev lo
    ip -n "$NS_S" route add "$CLIENT_NET.0.0/16" via "$CLI_IP" dev "$SRV_IF"
    mkdir -p "$TMP/ipxe" "$TMP/assets/storm" "$TMP/scripts" "$TMP/www/scripts" "$TMP/nginx/tmp"
    ln -s ../assets "$TMP/www/assets"
    cp "$IPXE_EFI" "$TMP/ipxe/ipxe.efi"
    chmod -R a+rX "$TMP"
    cc -O2 -Wall -Wextra -Werror -o "$TMP/boot-storm" "$HERE/boot-storm.c"
    cg_setup vbstorm
}

# Sizes by N, so that one storm moves at most ~5 GB: 8+32 MiB up to 200 machines, 2+8 up to 500,
# 1+4 above.
sizes_for() {
    local n="$1" k i
    if [ "$n" -le 200 ]; then k=8; i=32; elif [ "$n" -le 500 ]; then k=2; i=8; else k=1; i=4; fi
    echo "${KERNEL_MIB:-$k} ${INITRD_MIB:-$i}"
}

# MAC of machine i as boot-storm makes it (52:54:00:5X:XX:XX), in iPXE's hexhyp form.
mac_of() { printf '52-54-00-%02x-%02x-%02x' $((0x50 | (($1 >> 16) & 15))) $((($1 >> 8) & 255)) $(($1 & 255)); }

# Random kernel and initrd of the given sizes (made once); vboot's default.ipxe naming them, and
# the same script rendered for each of the first N machines as static files for nginx. vboot
# reads the script per request, so rewriting it between groups needs no restart.
prepare_assets() {
    local n="$1" k="$2" i="$3" m mac
    KERNEL="$TMP/assets/storm/linux-${k}m"
    INITRD="$TMP/assets/storm/initrd-${i}m"
    [ -f "$KERNEL" ] || head -c "$((k * 1024 * 1024))" /dev/urandom >"$KERNEL"
    [ -f "$INITRD" ] || head -c "$((i * 1024 * 1024))" /dev/urandom >"$INITRD"
    chmod 644 "$KERNEL" "$INITRD"
    printf '%s\n' '#!ipxe' '# boot-storm: echoes the MAC, names the kernel and initrd.' 'echo boot-storm {{mac}}' \
        "kernel {{assets}}/storm/linux-${k}m initrd=initrd-${i}m console=ttyS0 storm={{mac}}" \
        "initrd {{assets}}/storm/initrd-${i}m" 'boot' >"$TMP/scripts/default.ipxe"
    rm -f "$TMP/www/scripts/"*.ipxe
    for m in $(seq 0 $((n - 1))); do
        mac=$(mac_of "$m")
        sed -e "s/{{mac}}/$mac/g" -e "s#{{assets}}#http://$SRV_IP:8080/assets#g" "$TMP/scripts/default.ipxe" \
            >"$TMP/www/scripts/$mac.ipxe"
    done
    chmod -R a+rX "$TMP/www" "$TMP/scripts"
}

# --- servers -------------------------------------------------------------------------------------
# Both answer the same: UEFI PXE gets ipxe.efi in the proxy OFFER, then TFTP (tsize, blksize;
# windowsize only from vboot: dnsmasq 2.90 has none, so its transfers run lockstep), iPXE gets an
# http:// script URL for its MAC, and the script names the kernel and initrd on port 8080.
#
# dnsmasq: `--pxe-service` for CSA BC_EFI, not x86-64_EFI, so that dnsmasq 2.90 puts the
# `--dhcp-boot` file in the OFFER instead of sending EDK2 to port 4011 (run-proxy.sh says why).
# iPXE expands ${mac:hexhyp} in the URL. nginx: worker_processes auto (Debian's default: one per
# CPU), sendfile on, no access log (vboot logs at warning).
write_nginx_conf() {
    printf '%s\n' \
        'worker_processes auto;' \
        "pid $TMP/nginx/nginx.pid;" \
        "error_log $TMP/nginx/error.log warn;" \
        'events { worker_connections 8192; }' \
        'http {' \
        '    access_log off;' \
        '    sendfile on;' \
        '    tcp_nopush on;' \
        '    keepalive_timeout 65;' \
        '    default_type application/octet-stream;' \
        "    client_body_temp_path $TMP/nginx/tmp/body;" \
        "    proxy_temp_path $TMP/nginx/tmp/proxy;" \
        "    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;" \
        "    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;" \
        "    scgi_temp_path $TMP/nginx/tmp/scgi;" \
        "    server { listen $SRV_IP:8080 backlog=4096; root $TMP/www; }" \
        '}' >"$TMP/nginx.conf"
}

# Waits until PID listens on every "u:PORT" (UDP) or "t:PORT" (TCP) given, in NS_S.
wait_listening() {
    local pid="$1" i want ok
    shift
    for i in $(seq 1 100); do
        ok=1
        for want in "$@"; do
            nss ss -H "-ln${want%%:*}p" "sport = :${want#*:}" | grep -q "pid=$pid," || { ok=0; break; }
        done
        [ "$ok" = 0 ] || return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# The cgroup (when there is one) holds every server process and what it forks (joined before exec).
start_servers() {
    local name="$1" wrap=() pid
    [ -z "$CG" ] || wrap=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG")
    SERVER_PIDS=()
    case "$name" in
        vboot)
            rm -rf "$TMP/data"; mkdir -p "$TMP/data"
            # shellcheck disable=SC2086
            "${wrap[@]}" ip netns exec "$NS_S" env $VBOOT_ENV "$VBOOT" serve "${BENCH_LIMITS[@]}" --dhcp proxy \
                --listen "$SRV_IP" --interface "$SRV_IF" --http-port 8080 --tftp-port 69 --ipxe-dir "$TMP/ipxe" \
                --assets "$TMP/assets" --boot-scripts "$TMP/scripts" --data-dir "$TMP/data" \
                --log-level warning >>"$TMP/vboot.log" 2>&1 &
            pid=$! # sh, ip netns exec and env all exec: this is vboot's PID
            SERVER_PIDS=("$pid"); SERVER_PID="$pid"
            wait_listening "$pid" u:67 u:69 t:8080 || { echo "vboot did not start" >&2; tail -20 "$TMP/vboot.log" >&2; return 1; }
            ;;
        stack)
            # shellcheck disable=SC2016 # ${mac:hexhyp} is iPXE's, expanded by the client
            "${wrap[@]}" ip netns exec "$NS_S" dnsmasq -k --conf-file=/dev/null --port=0 --interface="$SRV_IF" \
                --bind-interfaces --dhcp-range="$SRV_IP,proxy" --pxe-service=BC_EFI,"boot",ipxe.efi \
                --dhcp-userclass=set:ipxe,iPXE \
                --dhcp-boot='tag:ipxe,http://'"$SRV_IP"':8080/scripts/${mac:hexhyp}.ipxe' \
                --dhcp-boot=tag:!ipxe,ipxe.efi --enable-tftp --tftp-root="$TMP/ipxe" --tftp-max="$DNSMASQ_TFTP_MAX" \
                --quiet-dhcp --log-facility="$TMP/dnsmasq.log" --pid-file= --user=nobody >>"$TMP/dnsmasq.out" 2>&1 &
            pid=$!
            SERVER_PIDS=("$pid")
            wait_listening "$pid" u:67 u:69 || { echo "dnsmasq did not start" >&2; tail -5 "$TMP/dnsmasq.log" "$TMP/dnsmasq.out" >&2; return 1; }
            "${wrap[@]}" ip netns exec "$NS_S" "$NGINX" -c "$TMP/nginx.conf" -p "$TMP/nginx" \
                -e "$TMP/nginx/error.log" -g 'daemon off;' >>"$TMP/nginx.out" 2>&1 &
            pid=$!
            SERVER_PIDS+=("$pid")
            wait_listening "$pid" t:8080 || { echo "nginx did not start" >&2; tail -5 "$TMP/nginx/error.log" >&2; return 1; }
            ;;
    esac
}

stop_servers() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do SERVER_PID="$pid"; stop_server; done
    SERVER_PIDS=()
}

# The running server's processes: the PIDs started and, with a cgroup, their children (nginx's
# workers).
server_procs() {
    if [ -n "$CG" ]; then cat "$CG/cgroup.procs"; else printf '%s\n' "${SERVER_PIDS[@]}"; fi
}
servers_cpu_ns() {
    if [ -n "$CG" ]; then cat "$CG/cpuacct.usage"; return; fi
    local pid sum=0
    for pid in "${SERVER_PIDS[@]}"; do sum=$((sum + $(cpu_ns "$pid"))); done
    echo "$sum"
}
# Peak RSS summed over the server's processes (pages that nginx's master and workers share count
# once per process).
servers_hwm_kib() {
    local pid sum=0 v
    for pid in $(server_procs); do v=$(hwm_kib "$pid"); sum=$((sum + ${v:-0})); done
    echo "$sum"
}

# Samples vboot's VmRSS every $1 seconds into $2 ("seconds-since-start KiB"), for at most $3
# samples, until stop_sampler.
start_sampler() {
    local every="$1" file="$2" max="$3" pid="$SERVER_PID"
    rm -f "$TMP/sampler.stop"
    : >"$file"
    (
        t0=$(date +%s.%N)
        for _ in $(seq 1 "$max"); do
            if [ -e "$TMP/sampler.stop" ] || ! kill -0 "$pid" 2>/dev/null; then break; fi
            v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
            [ -z "$v" ] || echo "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') $v" >>"$file"
            sleep "$every"
        done
    ) &
    SAMPLER_PID=$!
}

stop_sampler() {
    [ -n "$SAMPLER_PID" ] || return 0
    touch "$TMP/sampler.stop"
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
}

# Kernel drop counters of both namespaces since the previous call (nstat keeps a history file
# per namespace in TMP).
KERNEL_DROPS='^(UdpRcvbufErrors|UdpInErrors|UdpSndbufErrors|TcpExtListenOverflows|TcpExtListenDrops|TcpExtTCPTimeouts|TcpRetransSegs)$'
kernel_drops() {
    local ns side
    for ns in "$NS_S" "$NS_C"; do
        if [ "$ns" = "$NS_S" ]; then side=server; else side=client; fi
        NSTAT_HISTORY="$TMP/nstat.$ns" ip netns exec "$ns" nstat 2>/dev/null |
            awk -v re="$KERNEL_DROPS" -v side="$side" '$1 ~ re && $2 > 0 { printf "%s:%s=%s ", side, $1, $2 }'
    done
}

# vboot's /metrics counters that a storm moves, and its resident memory split.
show_counters() {
    nss curl -s --max-time 5 http://127.0.0.1:8081/metrics | awk '
        /^#/ { next }
        /tftp_transfers_(completed|started|failed)|tftp_size_probes|tftp_duplicate|tftp_requests_refused|dhcp_replies_sent|dhcp_packets_received|dhcp_silent|http_scripts_served|http_files_served|timeline_events_dropped|heap_trims|_errors|malformed|refused|limit_hits|budget_hits/ {
            sub(/^vboot_/, ""); sub(/_total /, " "); printf "    %-36s %s\n", $1, $2 }
        /^(process_resident_memory_bytes|vboot_heap_in_use_bytes|vboot_heap_free_bytes) / {
            sub(/^vboot_/, ""); printf "    %-36s %.1f MiB\n", $1, $2 / 1048576 }' || true
    awk '/^(RssAnon|RssFile):/ { printf "    %-36s %.1f MiB\n", $1, $2 / 1024 }' "/proc/$SERVER_PID/status" 2>/dev/null || true
}

storm() { # clients kernel initrd [extra args]
    local n="$1" k="$2" i="$3" capture=""
    shift 3
    if [ -n "$CAPTURE" ]; then
        ip netns exec "$NS_C" tcpdump -i "$CLI_IF" -n -s 0 -B 65536 -w "$CAPTURE" 2>"$TMP/tcpdump.err" &
        capture=$!
        sleep 1
    fi
    timeout "$((DEADLINE + 30))" ip netns exec "$NS_C" "$TMP/boot-storm" --clients "$n" --stagger "$STAGGER" \
        --deadline "$DEADLINE" --server "$SRV_IP" --relay "$CLI_IP" --relay-dev "$CLI_IF" --client-net "$CLIENT_NET" \
        --ipxe "$TMP/ipxe/ipxe.efi" --kernel "$k" --initrd "$i" "$@" 2>>"$TMP/storm.err" || true
    if [ -n "$capture" ]; then
        kill -INT "$capture" 2>/dev/null || true
        wait "$capture" 2>/dev/null || true
        log "capture: $CAPTURE ($(du -h "$CAPTURE" | cut -f1)); $(grep -h 'dropped by kernel' "$TMP/tcpdump.err" || true)"
    fi
}

RESULTS="$TMP/results.tsv"
COUNTERS="$TMP/counters.txt"

# For each N, RUNS rounds; a round runs every server once, fresh, the order alternating round by
# round (vboot first, then the stack first, ...) so that drift in the machine's load falls on both.
run_storms() {
    local n k i run s order c0 c1 line hwm idle drops
    : >"$RESULTS"
    : >"$COUNTERS"
    [[ " $SERVERS " != *" stack "* ]] || write_nginx_conf
    for n in $CLIENTS; do
        read -r k i < <(sizes_for "$n")
        prepare_assets "$n" "$k" "$i"
        log "== N=$n: kernel ${k} MiB, initrd ${i} MiB, $RUNS round(s) of: $SERVERS"
        for run in $(seq 1 "$RUNS"); do
            order="$SERVERS"
            [ $((run % 2)) = 1 ] || order=$(awk '{ for (j = NF; j >= 1; j--) printf "%s%s", $j, (j > 1 ? " " : "") }' <<<"$SERVERS")
            for s in $order; do
                start_servers "$s"
                idle=$(servers_hwm_kib)
                kernel_drops >/dev/null
                c0=$(servers_cpu_ns)
                line=$(storm "$n" "$KERNEL" "$INITRD")
                c1=$(servers_cpu_ns)
                drops=$(kernel_drops)
                hwm=$(servers_hwm_kib)
                log "N=$n run $run $s: ${line:-no output}"
                [ -z "$drops" ] || log "  kernel: $drops"
                printf 'run\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$n" "$run" \
                    "$(awk -v a="$c1" -v b="$c0" 'BEGIN { printf "%.2f", (a - b) / 1e9 }')" "$idle" "$hwm" \
                    "$line" "$drops" >>"$RESULTS"
                if [ "$s" = vboot ] && [ "$run" = "$RUNS" ]; then
                    { echo "  N=$n, vboot after run $run:"; show_counters; } >>"$COUNTERS"
                fi
                stop_servers
            done
        done
        printf 'grp\t%s\t%s\t%s\n' "$n" "$k" "$i" >>"$RESULTS"
    done
}

report_storms() {
    local date cpu_model
    date=$(date -u +%Y-%m-%d)
    cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
    echo "Boot-storm benchmark $date: $RUNS round(s) per N, servers interleaved, stagger ${STAGGER} ms, $(nproc) CPUs ($cpu_model), kernel $(uname -r)"
    echo "vboot: $VBOOT${VBOOT_ENV:+ (env $VBOOT_ENV)}"
    [[ " $SERVERS " != *" stack "* ]] || echo "stack: dnsmasq $DNSMASQ_VERSION (proxyDHCP + TFTP, --tftp-max $DNSMASQ_TFTP_MAX, no windowsize) + nginx $NGINX_VERSION (worker_processes auto, sendfile on; per-machine scripts as static files)"
    echo "Each server fresh per run, in its own namespace across a veth pair from the machines; machines and servers share the CPUs (no pinning)"
    echo "Times are medians over the runs of each run's per-client percentile; seconds = first start to last machine booted; machines/s = booted / seconds"
    echo "CPU: the server's processes during the storm; RSS: VmHWM summed over its processes, idle = just after start, peak = the highest run"
    echo
    awk -F'\t' '
    function kv(line, key,   m) { if (match(line, "(^| )" key "=[^ ]*")) { m = substr(line, RSTART, RLENGTH); sub(/^ /, "", m); sub(/^[^=]*=/, "", m); return m } return "" }
    function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
    function med(g, key,   j, a) { delete a; for (j = 1; j <= cnt[g]; j++) a[j] = val[g, j, key] + 0; sortn(a, cnt[g]); if (!cnt[g]) return 0; return (cnt[g] % 2) ? a[(cnt[g] + 1) / 2] : (a[cnt[g] / 2] + a[cnt[g] / 2 + 1]) / 2 }
    function lo(g, key,   j, m) { m = ""; for (j = 1; j <= cnt[g]; j++) if (m == "" || val[g, j, key] + 0 < m) m = val[g, j, key] + 0; return m }
    function hi(g, key,   j, m) { m = ""; for (j = 1; j <= cnt[g]; j++) if (m == "" || val[g, j, key] + 0 > m) m = val[g, j, key] + 0; return m }
    function pp(g, a, b) { return sprintf("%.0f/%.0f", med(g, a), med(g, b)) }
    $1 == "run" {
        s = $2; n = $3; g = n SUBSEP s
        if (!(n in seenN)) { seenN[n] = 1; order[++no] = n }
        if (!(s in seenS)) { seenS[s] = 1; sorder[++nsv] = s }
        c = ++cnt[g]; line = $8
        split("clients completed failed seconds dhcp_p50_ms dhcp_p99_ms tftp_p50_ms tftp_p99_ms ipxe_dhcp_p50_ms ipxe_dhcp_p99_ms script_p50_ms script_p99_ms assets_p50_ms assets_p99_ms total_p50_ms total_p99_ms bytes dhcp_retransmits ipxe_dhcp_retransmits tftp_retransmits", keys, " ")
        for (k in keys) val[g, c, keys[k]] = kv(line, keys[k])
        if (line == "") { val[g, c, "failed"] = n; val[g, c, "completed"] = 0 }
        sec = val[g, c, "seconds"] + 0
        val[g, c, "rate"] = (sec > 0) ? val[g, c, "completed"] / sec : 0
        val[g, c, "cpu"] = $5; val[g, c, "idle"] = $6 / 1024; val[g, c, "peak"] = $7 / 1024
        ok[g] += val[g, c, "completed"]; bad[g] += val[g, c, "failed"]; bytes[g] += val[g, c, "bytes"]
        rd[g] += val[g, c, "dhcp_retransmits"]; ri[g] += val[g, c, "ipxe_dhcp_retransmits"]; rt[g] += val[g, c, "tftp_retransmits"]
        e = kv(line, "first_error"); if (e != "\"\"" && e != "" && !(g in err)) { match(line, /first_error=".*"/); err[g] = substr(line, RSTART, RLENGTH) }
        if ($9 ~ /[^ ]/ && !(g in drop)) drop[g] = $9
        next
    }
    $1 == "grp" { ksz[$2] = $3; isz[$2] = $4 }
    END {
        printf "%-7s %-6s %-6s %-9s %-20s %-10s %-13s %-7s %-7s %-11s %-9s\n", "clients", "server", "MiB", "ok/fail", "seconds med", "machines/s", "total p50/p99", "CPU s", "GB/run", "retrans", "RSS MiB"
        printf "%-7s %-6s %-6s %-9s %-20s %-10s %-13s %-7s %-7s %-11s %-9s\n", "", "", "k+i", "", "(min-max)", "med", "ms", "/run", "", "d/i/t", "idle/peak"
        for (x = 1; x <= no; x++) for (y = 1; y <= nsv; y++) {
            n = order[x]; s = sorder[y]; g = n SUBSEP s
            if (!cnt[g]) continue
            printf "%-7s %-6s %-6s %-9s %-20s %-10.1f %-13s %-7.2f %-7.2f %-11s %-9s\n", n, s, ksz[n] "+" isz[n], ok[g] "/" bad[g],
                sprintf("%.2f (%.2f-%.2f)", med(g, "seconds"), lo(g, "seconds"), hi(g, "seconds")), med(g, "rate"),
                pp(g, "total_p50_ms", "total_p99_ms"), med(g, "cpu"), bytes[g] / cnt[g] / 1e9,
                rd[g] "/" ri[g] "/" rt[g], sprintf("%.0f/%.0f", med(g, "idle"), hi(g, "peak"))
        }
        if (("vboot" in seenS) && ("stack" in seenS)) {
            print ""
            printf "%-7s %-24s %-22s\n", "clients", "vboot/stack machines/s", "failed vboot / stack"
            for (x = 1; x <= no; x++) {
                n = order[x]; a = n SUBSEP "vboot"; b = n SUBSEP "stack"
                r = med(b, "rate") > 0 ? sprintf("%.2fx", med(a, "rate") / med(b, "rate")) : "-"
                printf "%-7s %-24s %-22s\n", n, r, bad[a] " / " bad[b]
            }
        }
        print ""
        printf "%-7s %-6s %-12s %-12s %-12s %-12s %-12s\n", "clients", "server", "dhcp", "tftp", "ipxe dhcp", "script", "assets"
        printf "%-7s %-6s %-12s %-12s %-12s %-12s %-12s\n", "", "", "p50/p99 ms", "p50/p99 ms", "p50/p99 ms", "p50/p99 ms", "p50/p99 ms"
        for (x = 1; x <= no; x++) for (y = 1; y <= nsv; y++) {
            n = order[x]; s = sorder[y]; g = n SUBSEP s
            if (!cnt[g]) continue
            printf "%-7s %-6s %-12s %-12s %-12s %-12s %-12s\n", n, s, pp(g, "dhcp_p50_ms", "dhcp_p99_ms"), pp(g, "tftp_p50_ms", "tftp_p99_ms"),
                pp(g, "ipxe_dhcp_p50_ms", "ipxe_dhcp_p99_ms"), pp(g, "script_p50_ms", "script_p99_ms"), pp(g, "assets_p50_ms", "assets_p99_ms")
        }
        for (x = 1; x <= no; x++) for (y = 1; y <= nsv; y++) {
            g = order[x] SUBSEP sorder[y]
            if (g in err) printf "N=%s %s first error: %s\n", order[x], sorder[y], err[g]
            if (g in drop) printf "N=%s %s kernel counters (first run with any): %s\n", order[x], sorder[y], drop[g]
        }
        total = 0; for (g in bytes) total += bytes[g]
        printf "\ntotal verified bytes moved: %.2f GB\n", total / 1e9
    }' "$RESULTS"
    if [ -s "$COUNTERS" ]; then
        echo
        echo "vboot counters (/metrics):"
        cat "$COUNTERS"
    fi
}

# --- memory flatness -----------------------------------------------------------------------------
run_minutes() {
    local n="$MEM_CLIENTS" k i end storms=0 ok=0 bad=0 line first="" max_storms
    read -r k i < <(sizes_for "$n")
    prepare_assets "$n" "$k" "$i"
    start_servers vboot
    local c0
    c0=$(servers_cpu_ns)
    start_sampler 5 "$TMP/rss-minutes.txt" $((MINUTES * 12 + 20))
    log "== memory: storms of N=$n (kernel ${k} MiB, initrd ${i} MiB) back to back for $MINUTES min; vboot PID $SERVER_PID"
    end=$(($(date +%s) + MINUTES * 60))
    max_storms=$((MINUTES * 600))
    while [ "$(date +%s)" -lt "$end" ] && [ "$storms" -lt "$max_storms" ]; do
        line=$(storm "$n" "$KERNEL" "$INITRD")
        storms=$((storms + 1))
        if [[ "$line" == *" failed=0 "* ]]; then ok=$((ok + 1)); else
            bad=$((bad + 1))
            [ -n "$first" ] || first="$line"
            log "storm $storms: ${line:-no output}"
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { log "vboot exited"; break; }
    done
    sleep 6
    stop_sampler
    local cpu hwm
    cpu=$(awk -v a="$(servers_cpu_ns)" -v b="$c0" 'BEGIN { printf "%.1f", (a - b) / 1e9 }')
    hwm=$(hwm_kib "$SERVER_PID")
    {
        echo "Memory flatness $(date -u +%Y-%m-%d): $storms storms of N=$n (kernel ${k} MiB + initrd ${i} MiB) in $MINUTES min, $ok clean, $bad with failures"
        echo "vboot: $VBOOT${VBOOT_ENV:+ (env $VBOOT_ENV)}; VmRSS sampled every 5 s; peak RSS (VmHWM) $((hwm / 1024)) MiB; vboot CPU ${cpu} s"
        [ -z "$first" ] || echo "first storm with failures: $first"
        awk -v minutes="$MINUTES" '
            { t[NR] = $1; r[NR] = $2 / 1024; if (r[NR] > mx) mx = r[NR] }
            END {
                if (NR < 3) { print "too few samples"; exit }
                # sample 1 is vboot idle, before the first storm; the last one is after the last storm
                mid = int((NR + 2) / 2)
                printf "RSS MiB: idle %.1f  start %.1f (t=%ss)  middle %.1f (t=%ss)  end %.1f (t=%ss, after the last storm)  max sampled %.1f\n", r[1], r[2], t[2], r[mid], t[mid], r[NR], t[NR], mx
                # least squares over all samples, and over those after the first minute
                for (pass = 0; pass < 2; pass++) {
                    n = 0; sx = sy = sxx = sxy = 0
                    for (j = 2; j <= NR; j++) { if (pass && t[j] < 60) continue; x = t[j] / 60; n++; sx += x; sy += r[j]; sxx += x * x; sxy += x * r[j] }
                    if (n >= 3 && n * sxx - sx * sx > 0) printf "slope %s: %+.2f MiB/min (%d samples)\n", pass ? "after the first minute" : "over the whole run", (n * sxy - sx * sy) / (n * sxx - sx * sx), n
                }
                # per-minute max, to see a trend through the noise
                printf "max RSS per minute (MiB):"
                for (j = 1; j <= NR; j++) { m = int(t[j] / 60); if (r[j] > pm[m]) pm[m] = r[j]; if (m > last) last = m }
                for (m = 0; m <= last; m++) printf " %.0f", pm[m]
                printf "\n"
            }' "$TMP/rss-minutes.txt"
        echo "vboot counters (/metrics):"
        show_counters
    }
    stop_servers
}

if [ "$MINUTES" -gt 0 ]; then SERVERS=vboot; fi
install_peers
[[ " $SERVERS " != *" vboot "* ]] || pick_vboot
setup
log "namespaces $NS_S (servers) and $NS_C (machines), temp $TMP, vboot $VBOOT"
if [ "$MINUTES" -gt 0 ]; then
    run_minutes | tee ${OUT:+"$OUT"}
else
    run_storms
    report_storms | tee ${OUT:+"$OUT"}
fi
