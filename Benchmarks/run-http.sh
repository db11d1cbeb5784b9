#!/usr/bin/env bash
# HTTP benchmark: vboot against nginx (sendfile on), same files, same clients.
#
# Runs each server by hand, in the foreground, inside a fresh network namespace (loopback
# only), one after another on 127.0.0.1:8080, and drives it with curl and wrk.
# Needs root (network namespace, cgroup). See Benchmarks/README.md.
#
#   sudo Benchmarks/run-http.sh            # 1 GiB asset, wrk 10 s, 3 runs per scenario and server
#   sudo Benchmarks/run-http.sh --quick    # 256 MiB asset, wrk 3 s, 1 run
#   options: --size MIB (large asset)  --runs N  --duration S (wrk)  --connections N (wrk)
#            --servers "vboot nginx"  --vboot PATH  --out FILE (also write the table there)
#            --keep (keep the temp dir)  --pin split|same|none (as run-tftp.sh: split = server
#            on CPU 0, client on CPU 1)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
SIZE_MIB=1024
RUNS=3
DURATION=10
CONNECTIONS=64
THREADS=2
PARTS=4
SMALL_BYTES=4096
SERVERS="vboot nginx"
VBOOT="${VBOOT:-}"
OUT=""
KEEP=0
PIN="split"
DEADLINE=120   # seconds, any single curl transfer
PORT=8080

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) SIZE_MIB=256; RUNS=1; DURATION=3 ;;
        --size) SIZE_MIB="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --connections) CONNECTIONS="$2"; shift ;;
        --servers) SERVERS="$2"; shift ;;
        --vboot) VBOOT="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --keep) KEEP=1 ;;
        --pin) PIN="$2"; shift ;;
        -h|--help) sed -n 2,13p "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$RUNS" -ge 1 ] && [ "$RUNS" -le 50 ] || { echo "--runs 1..50" >&2; exit 2; }
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 300 ] || { echo "--duration 1..300" >&2; exit 2; }

case "$PIN" in
    split) SRV_PIN=(taskset -c 0); CLI_PIN=(taskset -c 1) ;;
    same) SRV_PIN=(taskset -c 0); CLI_PIN=(taskset -c 0) ;;
    none) SRV_PIN=(); CLI_PIN=() ;;
    *) echo "--pin split|same|none" >&2; exit 2 ;;
esac
[ "$PIN" != split ] || [ "$(nproc)" -ge 2 ] || { echo "--pin split needs 2 CPUs" >&2; exit 2; }

[ "$(id -u)" = 0 ] || { echo "run as root (network namespace, cgroup)" >&2; exit 2; }

# --- tools ---------------------------------------------------------------------------------------
# wrk and curl come through apt-get install (no services); nginx as need_nginx (lib/common.sh)
# fetches it.
install_tools() {
    local need_apt=()
    command -v wrk >/dev/null || need_apt+=(wrk)
    command -v curl >/dev/null || need_apt+=(curl)
    if [ ${#need_apt[@]} -gt 0 ]; then
        log "apt-get install ${need_apt[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}" >&2
    fi
    need_nginx
    WRK_VERSION=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }' || true)
}

# --- namespace, files ----------------------------------------------------------------------------
NS="vbhttp$$"
TMP="$(mktemp -d /tmp/vbhttp.XXXXXX)"
chmod 755 "$TMP" # vboot, started as root, reads it as the vboot user
# The simulated machines share one source address: lift vboot's per-address caps (README:
# Security, Limits), or the benchmark measures the caps instead of the server.
BENCH_LIMITS=(--max-tftp-transfers-per-address 4096 --max-http-connections-per-client 100000)
SERVER_PID=""
CG=""
cleanup() {
    stop_server || true
    ip netns del "$NS" 2>/dev/null || true
    [ -z "$CG" ] || rmdir "$CG" 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BIG_BYTES=$((SIZE_MIB * 1024 * 1024))
TEST_MAC=52-54-00-aa-bb-01
BASE="http://127.0.0.1:$PORT"

setup() {
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    mkdir -p "$TMP/assets" "$TMP/vboot-data" "$TMP/static" "$TMP/nginx/tmp"
    log "writing $SIZE_MIB MiB of random data"
    head -c "$BIG_BYTES" /dev/urandom >"$TMP/assets/big.bin"
    head -c "$SMALL_BYTES" /dev/urandom >"$TMP/assets/small.bin"
    BIG_SHA=$(sha256sum "$TMP/assets/big.bin" | cut -d' ' -f1)
    SMALL_SHA=$(sha256sum "$TMP/assets/small.bin" | cut -d' ' -f1)
    # vboot renders boot-scripts/default.ipxe per request (no machines/ file matches the test
    # MACs). nginx serves the same text rendered once for TEST_MAC, as a static file.
    cp -r "$REPO/boot-scripts" "$TMP/boot-scripts"
    rm -rf "$TMP/boot-scripts/machines"; mkdir -p "$TMP/boot-scripts/machines"
    sed -e "s/{{mac}}/$TEST_MAC/g" -e "s#{{server}}#$BASE#g" "$TMP/boot-scripts/default.ipxe" >"$TMP/static/boot.ipxe"
    chmod 755 "$TMP" "$TMP/assets" "$TMP/static"
    chmod 644 "$TMP/assets/"* "$TMP/static/boot.ipxe"

    cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$PORT;
        location /assets/ { alias $TMP/assets/; }
        location = /health { default_type text/plain; return 200 "ok\\n"; }
        location = /boot.ipxe {
            root $TMP/static;
            default_type "text/plain; charset=utf-8";
            add_header Cache-Control no-store;
        }
    }
}
EOF

    # wrk: one machine-readable line at the end; vary.lua also varies the MAC per request.
    cat >"$TMP/report.lua" <<'EOF'
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
        summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
        e.connect, e.read, e.write, e.status, e.timeout))
end
EOF
    cat "$TMP/report.lua" - >"$TMP/vary.lua" <<'EOF'
local threads = 0
function setup(thread)
    thread:set("tid", threads)
    threads = threads + 1
end
local n = 0
function request()
    n = n + 1
    return wrk.format(nil, string.format("/boot.ipxe?mac=52-54-00-aa-bb-%02x", (n + tid * 37) % 256))
end
EOF
}

nsx() { ip netns exec "$NS" "$@"; }
cli() { "${CLI_PIN[@]}" ip netns exec "$NS" "$@"; }

# --- servers -------------------------------------------------------------------------------------
start_server() {
    local name="$1" wrap=()
    # Join the cgroup before exec, so children forked at startup (nginx's worker) count too.
    [ -z "$CG" ] || wrap=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG")
    case "$name" in
        vboot)
            rm -rf "$TMP/vboot-data"; mkdir -p "$TMP/vboot-data"
            "${wrap[@]}" "${SRV_PIN[@]}" ip netns exec "$NS" "$VBOOT" serve "${BENCH_LIMITS[@]}" --dhcp off --listen 127.0.0.1 --http-port "$PORT" \
                --tftp-port 6969 --assets "$TMP/assets" --boot-scripts "$TMP/boot-scripts" \
                --data-dir "$TMP/vboot-data" --log-level warning >"$TMP/vboot.log" 2>&1 &
            ;;
        nginx)      # one worker, sendfile on
            "${wrap[@]}" "${SRV_PIN[@]}" ip netns exec "$NS" "$NGINX" -c "$TMP/nginx.conf" -p "$TMP/nginx" \
                -e "$TMP/nginx/error.log" >"$TMP/nginx.out" 2>&1 &
            ;;
        *) echo "unknown server $name" >&2; return 1 ;;
    esac
    SERVER_PID=$!   # sh, taskset and ip netns exec all exec the server, so this is its PID
    local i
    for i in $(seq 1 100); do
        if nsx ss -H -ltnp "sport = :$PORT" | grep -q "pid=$SERVER_PID,"; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start" >&2
    cat "$TMP/$name".* >&2 2>/dev/null || true
    return 1
}

# VmRSS in KiB of the server and its children.
rss_kib() {
    local total=0 p v
    for p in $(pids_of "$1"); do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# Peak RSS per scenario: reset each server process's VmHWM (clear_refs 5) before the scenario,
# read the sum of VmHWM after it. Without clear_refs, VmHWM is the peak since the server started.
pids_of() { if [ -n "$CG" ]; then cat "$CG/cgroup.procs"; else echo "$1 $(pgrep -P "$1" 2>/dev/null || true)"; fi; }
hwm_reset() {
    local p
    for p in $(pids_of "$SERVER_PID"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done
}
hwm_kib() {
    local total=0 p v
    for p in $(pids_of "$SERVER_PID"); do
        v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# --- scenarios -----------------------------------------------------------------------------------
RESULTS="$TMP/results.tsv"
# res  id server run cpu_s value p50_us p99_us errors units(bytes or requests)
result() { printf 'res\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }
note() { printf 'note\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a - b) / 1e9 }'; }

# Once per server, not timed: content checks.
checks() {
    local server="$1" got off len
    got=$(cli curl -sS --max-time "$DEADLINE" "$BASE/assets/big.bin" | sha256sum | cut -d' ' -f1)
    if [ "$got" = "$BIG_SHA" ]; then note a "$server" "sha256 ok"; else note a "$server" "SHA256 MISMATCH"; fi
    off=$((BIG_BYTES / 3 + 12345)); len=$((1024 * 1024 + 17))
    if cli curl -sS --max-time 30 -r "$off-$((off + len - 1))" "$BASE/assets/big.bin" |
        cmp -s - <(tail -c +"$((off + 1))" "$TMP/assets/big.bin" | head -c "$len"); then
        note b "$server" "range content ok"
    else note b "$server" "RANGE CONTENT MISMATCH"; fi
    got=$(cli curl -sS --max-time 30 "$BASE/boot.ipxe?mac=$TEST_MAC" | tee "$TMP/script.$server" | wc -c)
    if cmp -s "$TMP/script.$server" "$TMP/static/boot.ipxe"; then note c "$server" "body = static file ($got B)"
    else note c "$server" "body differs from static file ($got B vs $(wc -c <"$TMP/static/boot.ipxe") B)"; fi
    got=$(cli curl -sS --max-time 30 "$BASE/assets/small.bin" | sha256sum | cut -d' ' -f1)
    if [ "$got" = "$SMALL_SHA" ]; then note d "$server" "sha256 ok"; else note d "$server" "SHA256 MISMATCH"; fi
    got=$(cli curl -sS --max-time 30 "$BASE/health" || true)
    if [ "$got" = ok ]; then note e "$server" "body ok"; else note e "$server" "BODY '$got'"; fi
}

# a) whole file, one connection.
scenario_a() {
    local server="$1" run="$2" before after out code size t bad=0
    before=$(cpu_ns "$SERVER_PID")
    out=$(cli curl -sS -o /dev/null --max-time "$DEADLINE" -w '%{http_code} %{size_download} %{time_total}' \
        "$BASE/assets/big.bin" || true)
    after=$(cpu_ns "$SERVER_PID")
    read -r code size t <<<"$out"
    [ "${code:-0}" = 200 ] && [ "${size:-0}" = "$BIG_BYTES" ] || bad=1
    log "$server a run $run: code=$code bytes=$size seconds=$t"
    result a "$server" "$run" "$(secs "$after" "$before")" \
        "$(awk -v b="${size:-0}" -v t="${t:-0}" 'BEGIN { printf "%.1f", (t > 0) ? b / t / 1e6 : 0 }')" - - "$bad" "${size:-0}"
}

# b) PARTS parallel Range requests, one per part of the file.
scenario_b() {
    local server="$1" run="$2" before after t0 t1 i start end part pids=() bad=0 total=0 code size
    part=$(((BIG_BYTES + PARTS - 1) / PARTS))
    before=$(cpu_ns "$SERVER_PID")
    t0=$(date +%s%N)
    for i in $(seq 0 $((PARTS - 1))); do
        start=$((i * part)); end=$((start + part - 1)); [ "$end" -lt "$BIG_BYTES" ] || end=$((BIG_BYTES - 1))
        cli curl -sS -o /dev/null --max-time "$DEADLINE" -r "$start-$end" -w '%{http_code} %{size_download}' \
            "$BASE/assets/big.bin" >"$TMP/part.$i" 2>&1 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
    t1=$(date +%s%N)
    after=$(cpu_ns "$SERVER_PID")
    for i in $(seq 0 $((PARTS - 1))); do
        read -r code size <"$TMP/part.$i" || true
        start=$((i * part)); end=$((start + part - 1)); [ "$end" -lt "$BIG_BYTES" ] || end=$((BIG_BYTES - 1))
        [ "${code:-0}" = 206 ] && [ "${size:-0}" = $((end - start + 1)) ] || bad=$((bad + 1))
        total=$((total + ${size:-0}))
    done
    log "$server b run $run: $PARTS parts, bytes=$total seconds=$(secs "$t1" "$t0") bad=$bad"
    result b "$server" "$run" "$(secs "$after" "$before")" \
        "$(awk -v b="$total" -v t="$(secs "$t1" "$t0")" 'BEGIN { printf "%.1f", (t > 0) ? b / t / 1e6 : 0 }')" - - "$bad" "$total"
}

# c), d) and e): wrk, THREADS threads, CONNECTIONS connections, DURATION seconds.
kv() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
scenario_wrk() {
    local id="$1" server="$2" run="$3" lua="$4" url="$5" before after line req dur errs
    before=$(cpu_ns "$SERVER_PID")
    line=$(cli timeout $((DURATION + 30)) wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --timeout 5s \
        -s "$lua" "$url" | grep '^requests=' || true)
    after=$(cpu_ns "$SERVER_PID")
    log "$server $id run $run: $line"
    [ -n "$line" ] || line="requests=0 duration_us=1 bytes=0 p50_us=0 p99_us=0 connect=1 read=0 write=0 status=0 timeout=0"
    req=$(kv "$line" requests); dur=$(kv "$line" duration_us)
    errs=$(( $(kv "$line" connect) + $(kv "$line" read) + $(kv "$line" write) + $(kv "$line" status) + $(kv "$line" timeout) ))
    result "$id" "$server" "$run" "$(secs "$after" "$before")" \
        "$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }')" \
        "$(kv "$line" p50_us)" "$(kv "$line" p99_us)" "$errs" "$req"
}

warmup() { cli timeout 20 wrk -t "$THREADS" -c "$CONNECTIONS" -d 1s -s "$2" "$1" >/dev/null 2>&1 || true; }

run_all() {
    local server id run
    : >"$RESULTS"
    LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
    # Pinned servers share CPU 0 with whatever else runs; under CFS a many-threaded server then
    # gets a bigger share than a one-process one, so the comparison is skewed.
    awk -v l="$LOAD_BEFORE" 'BEGIN { exit !(l > 1.0) }' &&
        log "warning: load average $LOAD_BEFORE before the run; other work on the machine skews these numbers"
    for server in $SERVERS; do
        log "== $server"
        start_server "$server"
        sleep 0.5
        note idle "$server" "$(rss_kib "$SERVER_PID")"
        checks "$server"
        for id in a b c d e; do
            hwm_reset
            case "$id" in
                c) warmup "$BASE/boot.ipxe" "$TMP/vary.lua" ;;
                d) warmup "$BASE/assets/small.bin" "$TMP/report.lua" ;;
                e) warmup "$BASE/health" "$TMP/report.lua" ;;
            esac
            for run in $(seq 1 "$RUNS"); do
                case "$id" in
                    a) scenario_a "$server" "$run" ;;
                    b) scenario_b "$server" "$run" ;;
                    c) scenario_wrk c "$server" "$run" "$TMP/vary.lua" "$BASE/boot.ipxe" ;;
                    d) scenario_wrk d "$server" "$run" "$TMP/report.lua" "$BASE/assets/small.bin" ;;
                    e) scenario_wrk e "$server" "$run" "$TMP/report.lua" "$BASE/health" ;;
                esac
            done
            printf 'rss\t%s\t%s\t%s\n' "$id" "$server" "$(hwm_kib)" >>"$RESULTS"
        done
        stop_server
    done
    LOAD_AFTER=$(cut -d' ' -f1 /proc/loadavg)
}

report() {
    local date cpu_model labels
    date=$(date -u +%Y-%m-%d)
    cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
    labels="a|${SIZE_MIB} MiB whole, 1 conn|MB/s
b|${SIZE_MIB} MiB as ${PARTS} ranges, ${PARTS} conns|MB/s
c|script, ${CONNECTIONS} conns|req/s
d|4 KiB asset, ${CONNECTIONS} conns|req/s
e|/health (floor), ${CONNECTIONS} conns|req/s"
    {
        echo "HTTP benchmark $date: ${RUNS} run(s) per cell, wrk ${DURATION} s x ${THREADS} threads, $(nproc) CPUs ($cpu_model), kernel $(uname -r)"
        echo "vboot: $VBOOT; nginx $NGINX_VERSION (1 worker, sendfile on); wrk $WRK_VERSION; CPU pinning: $PIN; load average before/after: $LOAD_BEFORE/$LOAD_AFTER"
        echo "MB/s = 10^6 bytes/s of file content; CPU = server user+sys per GiB (a, b) or per request (c-e); errors = failed runs (a, b) or wrk errors + non-2xx (c-e)"
        echo
        awk -F'\t' -v labels="$labels" -v servers="$SERVERS" '
        function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
        function median(key, col,   i, a, m) { m = n[key]; for (i = 1; i <= m; i++) a[i] = v[key, i, col]; sortn(a, m)
            lo = a[1]; hi = a[m]; return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
        BEGIN { ns = split(labels, sl, "\n"); nv = split(servers, sv, " ") }
        $1 == "rss" { if ($4 + 0 > rss[$2, $3]) rss[$2, $3] = $4 + 0; next }
        $1 == "note" { if ($2 == "idle") idle[$3] = $4; else notes[$2, $3] = notes[$2, $3] (notes[$2, $3] == "" ? "" : "; ") $4; next }
        $1 == "res" {
            k = $2 SUBSEP $3; n[k]++; m = n[k]
            v[k, m, 1] = $6 + 0; v[k, m, 2] = $7 + 0; v[k, m, 3] = $8 + 0
            cpu[k] += $5; errs[k] += $9; units[k] += $10
        }
        END {
            printf "%-40s %-6s %-24s %-7s %-7s %-7s %-7s %-12s %-8s %s\n", "scenario", "server", "median (min-max)", "vboot/", "p50", "p99", "errors", "server CPU", "peak RSS", "checks"
            printf "%-40s %-6s %-24s %-7s %-7s %-7s %-7s %-12s %-8s %s\n", "", "", "", "nginx", "ms", "ms", "", "", "MiB", ""
            for (s = 1; s <= ns; s++) {
                split(sl[s], f, "|"); id = f[1]
                for (i = 1; i <= nv; i++) {
                    k = id SUBSEP sv[i]; if (!n[k]) continue
                    med[k] = median(k, 1); mlo[k] = lo; mhi[k] = hi
                    p50[k] = median(k, 2); p99[k] = median(k, 3)
                }
                for (i = 1; i <= nv; i++) {
                    k = id SUBSEP sv[i]; if (!n[k]) continue
                    g = id SUBSEP "nginx"
                    ratio = (sv[i] == "vboot" && n[g] && med[g] > 0) ? sprintf("%.2fx", med[k] / med[g]) : ""
                    if (f[3] == "MB/s") {
                        val = sprintf("%.1f (%.1f-%.1f)", med[k], mlo[k], mhi[k])
                        lat50 = "-"; lat99 = "-"
                        cpus = units[k] > 0 ? sprintf("%.2f s/GiB", cpu[k] / (units[k] / 1073741824)) : "-"
                    } else {
                        val = sprintf("%.0f (%.0f-%.0f)", med[k], mlo[k], mhi[k])
                        lat50 = sprintf("%.2f", p50[k] / 1000); lat99 = sprintf("%.2f", p99[k] / 1000)
                        cpus = units[k] > 0 ? sprintf("%.1f us/req", cpu[k] * 1e6 / units[k]) : "-"
                    }
                    printf "%-40s %-6s %-24s %-7s %-7s %-7s %-7d %-12s %-8.1f %s\n", id ") " f[2] " (" f[3] ")", sv[i],
                        val, ratio, lat50, lat99, errs[k], cpus, rss[id, sv[i]] / 1024, notes[id, sv[i]]
                }
            }
            printf "\nRSS after start (MiB):"
            for (i = 1; i <= nv; i++) if (sv[i] in idle) printf " %s %.1f", sv[i], idle[sv[i]] / 1024
            printf "\n"
        }' "$RESULTS"
    } | tee ${OUT:+"$OUT"}
}

install_tools
pick_vboot
setup
cg_setup vbhttp
log "namespace $NS, temp $TMP, vboot $VBOOT, nginx $NGINX, $SIZE_MIB MiB, wrk ${DURATION}s x $RUNS run(s), pin $PIN"
run_all
report
