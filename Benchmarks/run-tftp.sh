#!/usr/bin/env bash
# TFTP throughput benchmark: vboot against tftpd-hpa, atftpd and dnsmasq.
#
# Runs every server by hand, in the foreground, inside a fresh network namespace (loopback
# only), one after another on port 69, and drives it with Benchmarks/tftp-load.c.
# Needs root (network namespace, port 69). See Benchmarks/README.md.
#
#   sudo Benchmarks/run-tftp.sh            # 64 MiB file, 3 runs per scenario and server
#   sudo Benchmarks/run-tftp.sh --quick    # 16 MiB file, 1 run
#   options: --size MIB  --runs N  --servers "vboot tftpd-hpa atftpd dnsmasq"
#            --vboot PATH  --out FILE (also write the table there)  --keep (keep the temp dir)
#            --loss PERCENT  loss recovery instead of throughput: a 1 MiB file (unless --size), the
#                 client losing PERCENT of what it receives and of its ACKs and re-sending its
#                 ACK after 300 ms, as the same seeded pattern for every server (run N: seed N);
#                 80 s per transfer. Scenarios f-h; the table adds each transfer's p50/max time.
#            --pin split|same|none  CPU placement: split (default) = server on CPU 0, client on
#                 CPU 1 (every request crosses CPUs, as from a remote client); same = both on
#                 CPU 0; none = leave it to the scheduler (lockstep results then swing ~4x
#                 with where the scheduler puts the server's receiving thread).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
SIZE_MIB=64
RUNS=3
SERVERS="vboot tftpd-hpa atftpd dnsmasq"
VBOOT="${VBOOT:-}"
OUT=""
KEEP=0
PIN=split
CONCURRENT=32
DEADLINE=120
LOSS=""
SIZE_GIVEN=""

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) SIZE_MIB=16; RUNS=1; DEADLINE=60 ;;
        --size) SIZE_MIB="$2"; SIZE_GIVEN=1; shift ;;
        --loss) LOSS="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
        --servers) SERVERS="$2"; shift ;;
        --vboot) VBOOT="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --keep) KEEP=1 ;;
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

[ "$(id -u)" = 0 ] || { echo "run as root (network namespace, port 69)" >&2; exit 2; }

# --- peers -----------------------------------------------------------------------------------
# tftpd-hpa and atftpd conflict as Debian packages, and installing either enables a service on
# port 69. So: take dnsmasq from dnsmasq-base (no service), and unpack tftpd-hpa and atftpd
# with dpkg-deb -x into a cache directory (their libraries are installed with apt-get).
install_peers() {
    local need_apt=()
    command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
    dpkg -s libwrap0 >/dev/null 2>&1 || need_apt+=(libwrap0)
    dpkg -s libpcre2-8-0 >/dev/null 2>&1 || need_apt+=(libpcre2-8-0)
    if [ ${#need_apt[@]} -gt 0 ]; then
        log "apt-get install ${need_apt[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}" >&2
    fi
    HPA=/usr/sbin/in.tftpd
    ATFTPD=/usr/sbin/atftpd
    if [ ! -x "$HPA" ] || [ ! -x "$ATFTPD" ]; then
        # Separate trees: atftpd also ships /usr/sbin/in.tftpd.
        for pkg in tftpd-hpa atftpd; do
            mkdir -p "$PEER_CACHE/$pkg"
            if ! ls "$PEER_CACHE"/"${pkg}"_*.deb >/dev/null 2>&1; then
                log "apt-get download $pkg"
                (cd "$PEER_CACHE" && apt-get download "$pkg" >&2)
            fi
            dpkg-deb -x "$(ls "$PEER_CACHE"/"${pkg}"_*.deb | head -1)" "$PEER_CACHE/$pkg"
        done
        [ -x "$HPA" ] || HPA="$PEER_CACHE/tftpd-hpa/usr/sbin/in.tftpd"
        [ -x "$ATFTPD" ] || ATFTPD="$PEER_CACHE/atftpd/usr/sbin/atftpd"
    fi
}

# --- namespace, files, client -------------------------------------------------------------------
NS="vbbench$$"
TMP="$(mktemp -d /tmp/vbbench.XXXXXX)"
chmod 755 "$TMP" # vboot, started as root, reads it as the vboot user
# The simulated machines share one source address: lift vboot's per-address caps (README:
# Security, Limits), or the benchmark measures the caps instead of the server.
BENCH_LIMITS=(--max-tftp-transfers-per-address 4096 --max-http-connections-per-client 100000)
SERVER_PID=""
cleanup() {
    stop_server || true
    ip netns del "$NS" 2>/dev/null || true
    [ -z "$CG" ] || rmdir "$CG" 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup() {
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    # glibc's AI_ADDRCONFIG ignores 127.0.0.1; without another address tftpd-hpa cannot
    # resolve its -a address and exits. A second loopback address keeps traffic on lo.
    ip -n "$NS" addr add 10.254.254.1/32 dev lo
    mkdir -p "$TMP/root" "$TMP/vboot-data"
    head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$TMP/root/bench.bin"
    chmod 755 "$TMP" "$TMP/root"; chmod 644 "$TMP/root/bench.bin"
    cc -O2 -Wall -Wextra -Werror -o "$TMP/tftp-load" "$HERE/tftp-load.c"
    cc -O2 -Wall -Wextra -Werror -o "$TMP/udp-ceiling" "$HERE/udp-ceiling.c"
}

# Raw UDP on the same path and pinning, no TFTP server: the ceiling scenario c is held against.
# ping-pong = 16 datagrams of 4+1468 octets per sendmmsg, then wait for a 4-octet ACK.
run_ceiling() {
    local mode run line
    for mode in pingpong blast; do
        for run in $(seq 1 "$RUNS"); do
            "${CLI_PIN[@]}" ip netns exec "$NS" "$TMP/udp-ceiling" recv -p 9999 -w 16 >/dev/null &
            local receiver=$!
            sleep 0.3
            line=$("${SRV_PIN[@]}" ip netns exec "$NS" "$TMP/udp-ceiling" send -p 9999 -w 16 -t 3 -m "$mode" || true)
            wait "$receiver" 2>/dev/null || true
            log "udp $mode run $run: $line"
            printf 'ceiling\t%s\t%s\t%s\n' "$mode" "$run" "$line" >>"$RESULTS"
        done
    done
}

nsx() { ip netns exec "$NS" "$@"; }

# --- servers -------------------------------------------------------------------------------------
start_server() {
    local name="$1"
    case "$name" in
        vboot)
            "${SRV_PIN[@]}" ip netns exec "$NS" "$VBOOT" serve "${BENCH_LIMITS[@]}" --dhcp off --listen 127.0.0.1 --tftp-port 69 --http-port 8080 \
                --assets "$TMP/root" --boot-scripts "$REPO/boot-scripts" --data-dir "$TMP/vboot-data" \
                --log-level warning >"$TMP/vboot.log" 2>&1 &
            ;;
        tftpd-hpa)  # forks one child per transfer; no windowsize support
            "${SRV_PIN[@]}" ip netns exec "$NS" "$HPA" -L -s "$TMP/root" -a 127.0.0.1:69 -u nobody >"$TMP/hpa.log" 2>&1 &
            ;;
        atftpd)     # threads; supports windowsize
            "${SRV_PIN[@]}" ip netns exec "$NS" "$ATFTPD" --daemon --no-fork --port 69 --bind-address 127.0.0.1 -m 256 \
                --user nobody --group nogroup --logfile /dev/null "$TMP/root" >"$TMP/atftpd.log" 2>&1 &
            ;;
        dnsmasq)    # single process; no windowsize support; TFTP only on port 69
            "${SRV_PIN[@]}" ip netns exec "$NS" dnsmasq -k --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$TMP/root" \
                --tftp-max=256 --listen-address=127.0.0.1 --bind-interfaces --quiet-tftp \
                --log-facility="$TMP/dnsmasq.log" --pid-file= --user=nobody >"$TMP/dnsmasq.out" 2>&1 &
            ;;
        *) echo "unknown server $name" >&2; return 1 ;;
    esac
    SERVER_PID=$!   # not via a shell function: ip netns exec execs the server, so this is its PID
    cg_add "$SERVER_PID"
    local i
    for i in $(seq 1 50); do
        if nsx ss -H -lunp 'sport = :69' | grep -q "pid=$SERVER_PID,"; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start" >&2
    return 1
}

# Server CPU: cpu_ns in lib/common.sh (a cgroup counts tftpd-hpa's forked transfer children).

# VmRSS in KiB of the server and its live children.
rss_kib() {
    local total=0 p v
    local pids
    if [ -n "$CG" ]; then pids=$(cat "$CG/cgroup.procs"); else pids="$1 $(pgrep -P "$1" 2>/dev/null || true)"; fi
    for p in $pids; do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# --- scenarios -----------------------------------------------------------------------------------
SCENARIOS=(
    "a|1x lockstep 512|-n 1"
    "b|1x blksize 1468|-n 1 -b 1468"
    "c|1x blksize 1468 window 16|-n 1 -b 1468 -w 16"
    "d|${CONCURRENT}x blksize 1468|-n $CONCURRENT -b 1468"
    "e|${CONCURRENT}x blksize 1468 window 16|-n $CONCURRENT -b 1468 -w 16"
)
if [ -n "$LOSS" ]; then
    awk -v l="$LOSS" 'BEGIN { exit !(l > 0 && l <= 50) }' || { echo "--loss: 0 < PERCENT <= 50" >&2; exit 2; }
    [ -n "$SIZE_GIVEN" ] || SIZE_MIB=1
    DEADLINE=80
    # -S is appended per run (the run number), so every server meets the same losses.
    SCENARIOS=(
        "f|1x blksize 1468, ${LOSS}% loss|-n 1 -b 1468 -r 0.3 -R 20 -L $LOSS"
        "g|8x blksize 1468, ${LOSS}% loss|-n 8 -b 1468 -r 0.3 -R 20 -L $LOSS"
        "h|1x blksize 1468 window 4, ${LOSS}% loss|-n 1 -b 1468 -w 4 -r 0.3 -R 20 -L $LOSS"
    )
fi
RESULTS="$TMP/results.tsv"

run_all() {
    local server sc id label args run line before after rss seed
    : >"$RESULTS"
    [ -n "$LOSS" ] || run_ceiling
    for server in $SERVERS; do
        log "== $server"
        start_server "$server"
        for sc in "${SCENARIOS[@]}"; do
            IFS='|' read -r id label args <<<"$sc"
            for run in $(seq 1 "$RUNS"); do
                before=$(cpu_ns "$SERVER_PID")
                seed=()
                [ -z "$LOSS" ] || seed=(-S "$run")
                # $args holds several options: split on purpose.
                # shellcheck disable=SC2086
                line=$("${CLI_PIN[@]}" ip netns exec "$NS" "$TMP/tftp-load" -f bench.bin -l "$TMP/root/bench.bin" -s -d "$DEADLINE" $args "${seed[@]}" || true)
                after=$(cpu_ns "$SERVER_PID")
                log "$server $id run $run: $line"
                # scenario server run cpu_s rest-of-line
                printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$server" "$run" \
                    "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", (a - b) / 1e9 }')" \
                    "$line" >>"$RESULTS"
            done
            rss=$(rss_kib "$SERVER_PID")
            printf 'rss\t%s\t%s\t%s\n' "$id" "$server" "$rss" >>"$RESULTS"
        done
        stop_server
    done
}

report() {
    local date cpu_model
    date=$(date -u +%Y-%m-%d)
    cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
    {
        echo "TFTP benchmark $date: file ${SIZE_MIB} MiB, ${RUNS} run(s) per cell, $(nproc) CPUs ($cpu_model), kernel $(uname -r)"
        echo "vboot: $VBOOT; CPU pinning: $PIN; MB/s = 10^6 bytes/s of verified file content; CPU s/GiB = server user+sys per GiB served"
        echo
        awk -F'\t' -v scen="$(printf '%s\n' "${SCENARIOS[@]}")" -v servers="$SERVERS" -v loss="$LOSS" '
        function kv(line, key,   m) { if (match(line, key "=[^ ]*")) { m = substr(line, RSTART, RLENGTH); sub(/^[^=]*=/, "", m); return m } return "" }
        function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
        BEGIN { ns = split(scen, sl, "\n"); nv = split(servers, sv, " ") }
        $1 == "rss" { if ($4 + 0 > rss[$2, $3]) rss[$2, $3] = $4 + 0; next }
        $1 == "ceiling" { cn[$2]++; cv[$2, cn[$2]] = kv($4, "mbps") + 0; next }
        {
            k = $1 SUBSEP $2; line = $5
            n[k]++; v[k, n[k]] = kv(line, "mbps") + 0
            ok[k] += kv(line, "ok"); bad[k] += kv(line, "failed"); rt[k] += kv(line, "retransmits")
            cpu[k] += $4; bytes[k] += kv(line, "bytes")
            win[k] += kv(line, "window_accepted"); oack[k] += kv(line, "oack")
            if (kv(line, "ok") + 0 > 0) { np[k]++; p50[k, np[k]] = kv(line, "xfer_p50_s") + 0 }
            if (kv(line, "xfer_max_s") + 0 > slowest[k]) slowest[k] = kv(line, "xfer_max_s") + 0
        }
        END {
            printf "%-34s %-10s %-26s %-7s %-9s %-8s %-8s %s\n", "scenario", "server", "MB/s median (min-max)", "vboot/", "ok/fail", "retrans", "CPU s/", "max RSS"
            printf "%-34s %-10s %-26s %-7s %-9s %-8s %-8s %s\n", "", "", "", "best", "", "", "GiB", "MiB"
            for (s = 1; s <= ns; s++) {
                split(sl[s], f, "|"); id = f[1]; label = f[2]; want_win = (f[3] ~ /-w/); want_opt = (f[3] ~ /-b/)
                best = 0
                for (i = 1; i <= nv; i++) {
                    k = id SUBSEP sv[i]; if (!n[k]) continue
                    delete a; for (j = 1; j <= n[k]; j++) a[j] = v[k, j]; sortn(a, n[k])
                    med[k] = (n[k] % 2) ? a[(n[k] + 1) / 2] : (a[n[k] / 2] + a[n[k] / 2 + 1]) / 2
                    lo[k] = a[1]; hi[k] = a[n[k]]
                    if (sv[i] != "vboot" && med[k] > best) best = med[k]
                }
                for (i = 1; i <= nv; i++) {
                    k = id SUBSEP sv[i]; if (!n[k]) continue
                    note = ""
                    if (want_win && win[k] == 0) note = " [no windowsize: lockstep]"
                    if (want_opt && oack[k] == 0) note = " [options ignored]"
                    ratio = (sv[i] == "vboot" && best > 0) ? sprintf("%.2fx", med[k] / best) : ""
                    cpg = bytes[k] > 0 ? sprintf("%.2f", cpu[k] / (bytes[k] / 1073741824)) : "-"
                    times = ""
                    if (loss && np[k]) {
                        delete a; for (j = 1; j <= np[k]; j++) a[j] = p50[k, j]; sortn(a, np[k])
                        times = sprintf("  transfer p50 %.1f s, slowest %.1f s", (np[k] % 2) ? a[(np[k] + 1) / 2] : (a[np[k] / 2] + a[np[k] / 2 + 1]) / 2, slowest[k])
                    }
                    printf "%-34s %-10s %-26s %-7s %-9s %-8d %-8s %.1f%s%s\n", id ") " label, sv[i],
                        sprintf("%.1f (%.1f-%.1f)", med[k], lo[k], hi[k]), ratio, ok[k] "/" bad[k], rt[k], cpg,
                        rss[id, sv[i]] / 1024, note, times
                }
            }
            if (!loss) printf "\nRaw UDP on the same path and pinning (Benchmarks/udp-ceiling.c, no TFTP server):\n"
            for (m = 1; m <= 2; m++) {
                mode = m == 1 ? "pingpong" : "blast"; if (!cn[mode]) continue
                delete a; for (j = 1; j <= cn[mode]; j++) a[j] = cv[mode, j]; sortn(a, cn[mode])
                cmed[mode] = (cn[mode] % 2) ? a[(cn[mode] + 1) / 2] : (a[cn[mode] / 2] + a[cn[mode] / 2 + 1]) / 2
                printf "  %-58s %.1f (%.1f-%.1f) MB/s\n", mode == "pingpong" ? "ping-pong, 16 x 1468-octet windows, ACK per window" : "one-way blast, 16 x 1468 per sendmmsg", cmed[mode], a[1], a[cn[mode]]
            }
            k = "c" SUBSEP "vboot"
            if (cmed["pingpong"] > 0 && n[k]) printf "  vboot c) = %.0f%% of the ping-pong ceiling\n", 100 * med[k] / cmed["pingpong"]
        }' "$RESULTS"
    } | tee ${OUT:+"$OUT"}
}

install_peers
pick_vboot
setup
cg_setup vbbench
log "namespace $NS, temp $TMP, vboot $VBOOT, $SIZE_MIB MiB x $RUNS run(s), pin $PIN"
run_all
report
