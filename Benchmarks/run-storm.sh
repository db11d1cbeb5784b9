#!/usr/bin/env bash
# Boot-storm benchmark: N machines run vboot's whole boot chain at once (proxyDHCP OFFER, TFTP
# size probe and ipxe.efi download as EDK2 does them, iPXE's DHCP, the boot script and a kernel
# and initrd over HTTP), driven by Benchmarks/boot-storm.c.
#
# vboot runs by hand, in the foreground, inside a fresh network namespace (loopback only), and
# is stopped by PID. Needs root (network namespace, ports 67 and 69). See Benchmarks/README.md.
#
#   sudo Benchmarks/run-storm.sh              # N=100 (8+32 MiB) and N=500 (2+8 MiB), 3 runs each
#   sudo Benchmarks/run-storm.sh --quick      # N=50, 1 run
#   sudo Benchmarks/run-storm.sh --minutes 10 # memory flatness: storms of N=100 back to back
#   options: --clients "100 500"  --runs N  --kernel-mib K --initrd-mib I (default: by N)
#            --stagger MS (between client starts; default 0 = all at once)  --deadline S (300)
#            --minutes M (1..60; only the memory run)  --mem-clients N (100)
#            --vboot PATH  --vboot-env "VAR=VALUE ..." (extra environment for vboot)
#            --out FILE (also write the report there)  --keep (keep the temp dir)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
CLIENTS="100 500"
RUNS=3
KERNEL_MIB=""
INITRD_MIB=""
STAGGER=0
DEADLINE=300
MINUTES=0
MEM_CLIENTS=100
VBOOT="${VBOOT:-}"
VBOOT_ENV=""
OUT=""
KEEP=0

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) CLIENTS=50; RUNS=1 ;;
        --clients) CLIENTS="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
        --kernel-mib) KERNEL_MIB="$2"; shift ;;
        --initrd-mib) INITRD_MIB="$2"; shift ;;
        --stagger) STAGGER="$2"; shift ;;
        --deadline) DEADLINE="$2"; shift ;;
        --minutes) MINUTES="$2"; shift ;;
        --mem-clients) MEM_CLIENTS="$2"; shift ;;
        --vboot) VBOOT="$2"; shift ;;
        --vboot-env) VBOOT_ENV="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n 2,17p "$0"; exit 0 ;;
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
[ "$(id -u)" = 0 ] || { echo "run as root (network namespace, ports 67 and 69)" >&2; exit 2; }



# Debian's ipxe package only installs files (no service).
IPXE_EFI=/usr/lib/ipxe/ipxe.efi
need_ipxe() {
    if [ ! -f "$IPXE_EFI" ]; then
        log "apt-get install ipxe"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ipxe >&2
    fi
    [ -f "$IPXE_EFI" ] || { echo "no $IPXE_EFI" >&2; exit 2; }
}

# --- namespace, files, client -------------------------------------------------------------------
NS="vbstorm$$"
TMP="$(mktemp -d /tmp/vbstorm.XXXXXX)"
chmod 755 "$TMP" # vboot, started as root, reads it as the vboot user
# The simulated machines share one source address: lift vboot's per-address caps (README:
# Security, Limits), or the benchmark measures the caps instead of the server.
BENCH_LIMITS=(--max-tftp-transfers-per-address 4096 --max-http-connections-per-client 100000)
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
    stop_sampler || true
    stop_server || true
    ip netns del "$NS" 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() { ip netns exec "$NS" "$@"; }

setup() {
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    mkdir -p "$TMP/ipxe" "$TMP/assets/storm" "$TMP/scripts"
    cp "$IPXE_EFI" "$TMP/ipxe/ipxe.efi"
    chmod -R a+rX "$TMP"
    cc -O2 -Wall -Wextra -Werror -o "$TMP/boot-storm" "$HERE/boot-storm.c"
}

# Sizes by N, so that one storm moves at most ~5 GB: 8+32 MiB up to 200 machines, 2+8 up to 500,
# 1+4 above.
sizes_for() {
    local n="$1" k i
    if [ "$n" -le 200 ]; then k=8; i=32; elif [ "$n" -le 500 ]; then k=2; i=8; else k=1; i=4; fi
    echo "${KERNEL_MIB:-$k} ${INITRD_MIB:-$i}"
}

# Random kernel and initrd of the given sizes (made once), and a default.ipxe naming them.
# vboot reads the script per request, so rewriting it between groups needs no restart.
prepare_assets() {
    local k="$1" i="$2"
    KERNEL="$TMP/assets/storm/linux-${k}m"
    INITRD="$TMP/assets/storm/initrd-${i}m"
    [ -f "$KERNEL" ] || head -c "$((k * 1024 * 1024))" /dev/urandom >"$KERNEL"
    [ -f "$INITRD" ] || head -c "$((i * 1024 * 1024))" /dev/urandom >"$INITRD"
    chmod 644 "$KERNEL" "$INITRD"
    cat >"$TMP/scripts/default.ipxe" <<EOF
#!ipxe
# boot-storm: echoes the MAC, names the kernel and initrd.
echo boot-storm {{mac}}
kernel {{assets}}/storm/linux-${k}m initrd=initrd-${i}m console=ttyS0 storm={{mac}}
initrd {{assets}}/storm/initrd-${i}m
boot
EOF
}

# --- vboot ---------------------------------------------------------------------------------------
start_server() {
    rm -rf "$TMP/data"
    mkdir -p "$TMP/data"
    # shellcheck disable=SC2086
    ip netns exec "$NS" env $VBOOT_ENV "$VBOOT" serve "${BENCH_LIMITS[@]}" --dhcp proxy --listen 127.0.0.1 --interface lo \
        --http-port 8080 --tftp-port 69 --ipxe-dir "$TMP/ipxe" --assets "$TMP/assets" \
        --boot-scripts "$TMP/scripts" --data-dir "$TMP/data" --log-level warning >>"$TMP/vboot.log" 2>&1 &
    SERVER_PID=$!   # ip netns exec and env exec: this is vboot's PID
    local i listening
    for i in $(seq 1 100); do
        listening=$(nsx ss -H -lunpt 2>/dev/null | grep "pid=$SERVER_PID," || true)
        if grep -q ':67 ' <<<"$listening" && grep -q ':69 ' <<<"$listening" && grep -q ':8080 ' <<<"$listening"; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "vboot did not start; log:" >&2
    tail -20 "$TMP/vboot.log" >&2
    return 1
}


cpu_s() { awk -v t="$TICKS" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / t }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }  # peak RSS since start

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

# The /metrics counters a storm moves, and the kernel's drop counters in the namespace.
show_counters() {
    nsx curl -s --max-time 5 http://127.0.0.1:8081/metrics | awk '
        /^#/ { next }
        /tftp_transfers_(completed|started|failed)|tftp_size_probes|tftp_duplicate|tftp_requests_refused|dhcp_replies_sent|dhcp_packets_received|dhcp_silent|http_scripts_served|http_files_served|timeline_events_dropped|heap_trims|_errors|malformed|refused|limit_hits|budget_hits/ {
            sub(/^vboot_/, ""); sub(/_total /, " "); printf "    %-36s %s\n", $1, $2 }
        /^(process_resident_memory_bytes|vboot_heap_in_use_bytes|vboot_heap_free_bytes) / {
            sub(/^vboot_/, ""); printf "    %-36s %.1f MiB\n", $1, $2 / 1048576 }' || true
    # Resident memory split: anonymous (heap, stacks) and file-backed (code pages touched so far).
    awk '/^(RssAnon|RssFile):/ { printf "    %-36s %.1f MiB\n", $1, $2 / 1024 }' "/proc/$SERVER_PID/status" 2>/dev/null || true
    nsx nstat -asz 2>/dev/null | awk '
        $1 ~ /^(UdpRcvbufErrors|UdpInErrors|UdpSndbufErrors|TcpExtListenOverflows|TcpExtListenDrops|TcpExtTCPTimeouts|TcpRetransSegs)$/ {
            printf "    %-36s %s (kernel, namespace)\n", $1, $2 }' || true
}

storm() { # clients kernel initrd [extra args]
    local n="$1" k="$2" i="$3"
    shift 3
    timeout "$((DEADLINE + 30))" ip netns exec "$NS" "$TMP/boot-storm" --clients "$n" --stagger "$STAGGER" \
        --deadline "$DEADLINE" --ipxe "$TMP/ipxe/ipxe.efi" --kernel "$k" --initrd "$i" "$@" 2>>"$TMP/storm.err" || true
}

RESULTS="$TMP/results.tsv"
COUNTERS="$TMP/counters.txt"

run_storms() {
    local n k i run line before after rss0 rssmax rssfin c0 c1
    : >"$RESULTS"
    : >"$COUNTERS"
    for n in $CLIENTS; do
        read -r k i < <(sizes_for "$n")
        prepare_assets "$k" "$i"
        start_server
        rss0=$(rss_kib "$SERVER_PID")
        c0=$(cpu_s "$SERVER_PID")
        start_sampler 0.5 "$TMP/rss-$n.txt" $(( (DEADLINE + 60) * RUNS * 2 ))
        log "== N=$n: kernel ${k} MiB, initrd ${i} MiB, $RUNS run(s); vboot PID $SERVER_PID, RSS $((rss0 / 1024)) MiB idle"
        for run in $(seq 1 "$RUNS"); do
            before=$(cpu_s "$SERVER_PID")
            line=$(storm "$n" "$KERNEL" "$INITRD")
            after=$(cpu_s "$SERVER_PID")
            log "N=$n run $run: ${line:-no output}"
            printf 'run\t%s\t%s\t%s\t%s\n' "$n" "$run" "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')" \
                "$line" >>"$RESULTS"
            kill -0 "$SERVER_PID" 2>/dev/null || { log "vboot exited"; break; }
        done
        sleep 1   # let the last connections close before the final sample
        stop_sampler
        rssfin=$(rss_kib "$SERVER_PID")
        c1=$(cpu_s "$SERVER_PID")
        # The peak: VmHWM (vboot is fresh for each N), which sees what 0.5 s samples can miss.
        rssmax=$(hwm_kib "$SERVER_PID")
        log "N=$n: vboot RSS idle $((rss0 / 1024)) MiB, peak $((rssmax / 1024)) MiB (sampled max $(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print int(m / 1024) }' "$TMP/rss-$n.txt") MiB), final $((rssfin / 1024)) MiB"
        printf 'grp\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$k" "$i" "$rss0" "$rssmax" "$rssfin" \
            "$(awk -v a="$c1" -v b="$c0" 'BEGIN { printf "%.2f", a - b }')" >>"$RESULTS"
        { echo "  N=$n, after $RUNS storm(s):"; show_counters; } >>"$COUNTERS"
        stop_server
    done
}

report_storms() {
    local date cpu_model
    date=$(date -u +%Y-%m-%d)
    cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
    echo "Boot-storm benchmark $date: $RUNS run(s) per N, stagger ${STAGGER} ms, $(nproc) CPUs ($cpu_model), kernel $(uname -r)"
    echo "vboot: $VBOOT${VBOOT_ENV:+ (env $VBOOT_ENV)}; one fresh vboot per N; client and vboot share the CPUs (no pinning)"
    echo "Times are medians over the runs of each run's per-client percentile; seconds = first start to last machine booted"
    echo
    awk -F'\t' '
    function kv(line, key,   m) { if (match(line, "(^| )" key "=[^ ]*")) { m = substr(line, RSTART, RLENGTH); sub(/^ /, "", m); sub(/^[^=]*=/, "", m); return m } return "" }
    function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
    function med(n, key,   j, a) { delete a; for (j = 1; j <= cnt[n]; j++) a[j] = val[n, j, key] + 0; sortn(a, cnt[n]); if (!cnt[n]) return 0; return (cnt[n] % 2) ? a[(cnt[n] + 1) / 2] : (a[cnt[n] / 2] + a[cnt[n] / 2 + 1]) / 2 }
    function lo(n, key,   j, m) { m = ""; for (j = 1; j <= cnt[n]; j++) if (m == "" || val[n, j, key] + 0 < m) m = val[n, j, key] + 0; return m }
    function hi(n, key,   j, m) { m = ""; for (j = 1; j <= cnt[n]; j++) if (m == "" || val[n, j, key] + 0 > m) m = val[n, j, key] + 0; return m }
    function pp(n, a, b) { return sprintf("%.0f/%.0f", med(n, a), med(n, b)) }
    $1 == "run" {
        n = $2; if (!(n in seen)) { seen[n] = 1; order[++no] = n }
        c = ++cnt[n]; line = $5
        split("clients completed failed seconds dhcp_p50_ms dhcp_p99_ms tftp_p50_ms tftp_p99_ms ipxe_dhcp_p50_ms ipxe_dhcp_p99_ms script_p50_ms script_p99_ms assets_p50_ms assets_p99_ms total_p50_ms total_p99_ms bytes dhcp_retransmits ipxe_dhcp_retransmits tftp_retransmits", keys, " ")
        for (k in keys) val[n, c, keys[k]] = kv(line, keys[k])
        if (line == "") { val[n, c, "failed"] = n; val[n, c, "completed"] = 0 }
        ok[n] += val[n, c, "completed"]; bad[n] += val[n, c, "failed"]
        cpu[n] += $4; bytes[n] += val[n, c, "bytes"]
        rd[n] += val[n, c, "dhcp_retransmits"]; ri[n] += val[n, c, "ipxe_dhcp_retransmits"]; rt[n] += val[n, c, "tftp_retransmits"]
        e = kv(line, "first_error"); if (e != "\"\"" && e != "" && !(n in err)) { match(line, /first_error=".*"/); err[n] = substr(line, RSTART, RLENGTH) }
        next
    }
    $1 == "grp" { ksz[$2] = $3; isz[$2] = $4; r0[$2] = $5; rmax[$2] = $6; rfin[$2] = $7; gcpu[$2] = $8 }
    END {
        printf "%-8s %-12s %-9s %-22s %-14s %-10s %-11s %-10s %-20s\n", "clients", "kernel+initrd", "ok/fail", "seconds med (min-max)", "total p50/p99", "GB/run", "vboot CPU", "retrans", "vboot RSS MiB"
        printf "%-8s %-12s %-9s %-22s %-14s %-10s %-11s %-10s %-20s\n", "", "MiB", "", "", "ms", "", "s/run", "d/i/t", "idle/peak/final"
        for (x = 1; x <= no; x++) {
            n = order[x]
            printf "%-8s %-12s %-9s %-22s %-14s %-10.2f %-11.2f %-10s %-20s\n", n, ksz[n] "+" isz[n], ok[n] "/" bad[n],
                sprintf("%.2f (%.2f-%.2f)", med(n, "seconds"), lo(n, "seconds"), hi(n, "seconds")),
                pp(n, "total_p50_ms", "total_p99_ms"), bytes[n] / cnt[n] / 1e9, cpu[n] / cnt[n],
                rd[n] "/" ri[n] "/" rt[n],
                sprintf("%.0f/%.0f/%.0f", r0[n] / 1024, rmax[n] / 1024, rfin[n] / 1024)
        }
        print ""
        printf "%-8s %-14s %-14s %-14s %-14s %-14s\n", "clients", "dhcp", "tftp", "ipxe dhcp", "script", "assets"
        printf "%-8s %-14s %-14s %-14s %-14s %-14s\n", "", "p50/p99 ms", "p50/p99 ms", "p50/p99 ms", "p50/p99 ms", "p50/p99 ms"
        for (x = 1; x <= no; x++) {
            n = order[x]
            printf "%-8s %-14s %-14s %-14s %-14s %-14s\n", n, pp(n, "dhcp_p50_ms", "dhcp_p99_ms"), pp(n, "tftp_p50_ms", "tftp_p99_ms"),
                pp(n, "ipxe_dhcp_p50_ms", "ipxe_dhcp_p99_ms"), pp(n, "script_p50_ms", "script_p99_ms"), pp(n, "assets_p50_ms", "assets_p99_ms")
        }
        for (x = 1; x <= no; x++) { n = order[x]; if (n in err) printf "N=%s first error: %s\n", n, err[n] }
        total = 0; for (x = 1; x <= no; x++) total += bytes[order[x]]
        printf "\ntotal verified bytes moved: %.2f GB\n", total / 1e9
    }' "$RESULTS"
    echo
    echo "vboot counters (/metrics) and kernel drop counters:"
    cat "$COUNTERS"
}

# --- memory flatness -----------------------------------------------------------------------------
run_minutes() {
    local n="$MEM_CLIENTS" k i end storms=0 ok=0 bad=0 line first="" max_storms
    read -r k i < <(sizes_for "$n")
    prepare_assets "$k" "$i"
    start_server
    local c0
    c0=$(cpu_s "$SERVER_PID")
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
    cpu=$(awk -v a="$(cpu_s "$SERVER_PID")" -v b="$c0" 'BEGIN { printf "%.1f", a - b }')
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
        echo "vboot counters (/metrics) and kernel drop counters:"
        show_counters
    }
    stop_server
}

need_ipxe
pick_vboot
setup
log "namespace $NS, temp $TMP, vboot $VBOOT"
if [ "$MINUTES" -gt 0 ]; then
    run_minutes | tee ${OUT:+"$OUT"}
else
    run_storms
    report_storms | tee ${OUT:+"$OUT"}
fi
