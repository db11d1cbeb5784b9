#!/usr/bin/env bash
# Fault tests with real processes (issue 11): vboot killed, its database restarted, its disk
# full, its listeners flooded, and what a machine on the LAN sees through each.
#
#   Tests/e2e/faults.sh                 every scenario
#   Tests/e2e/faults.sh storm diskfull  only those (storm postgres diskfull slowloris)
#
# storm      kill -9 of vboot in the middle of a 100-machine boot storm (Benchmarks/boot-storm.c
#            --once: DHCP, TFTP ipxe.efi, iPXE's DHCP, /boot.ipxe, kernel + initrd, then the
#            installer's callback) with every machine declared `once`, SQLite in the data dir,
#            vboot --dhcp full with 200 more DHCP clients taking leases through the kill;
#            restarted at once. Serving again (/health and a DHCP OFFER) within 1 s of the
#            restart, no machine lost, no ACKed lease lost, every machine boots on a second
#            storm, no install handed out twice (below).
# postgres   two vboot servers on one PostgreSQL database, a cluster of this test's own (Debian's
#            binaries, initdb in the work directory, Unix socket only: restarting the host's
#            shared cluster would break other test runs); it is stopped (pg_ctl -m fast, which
#            ends every connection) and started again 2 s later while both servers are asked
#            for the same `once` machines every 0.15 s: both serve scripts again within 5 s, no
#            machine gets two installs.
# diskfull   the data directory is a 2 MiB tmpfs (in vboot's own mount namespace), filled up
#            under load: a clear error in the log, known machines keep booting (proxyDHCP
#            OFFERs and scripts), vboot stays up, a `once` install is never handed out unrecorded;
#            after the space is freed, writes work again.
# slowloris  1,000 slowloris HTTP connections and 1,000 TFTP clients on one address that send
#            RRQs and never ACK, while a real OVMF guest (QEMU, Tests/e2e/lib/rig.sh) boots through
#            proxyDHCP, TFTP and HTTP to its script: its own TFTP transfer is served (not refused
#            as busy, which leaves OVMF to its UEFI HTTP boot fallback a minute later), it boots
#            within SLOWLORIS_LIMIT (default 60 s), vboot stays up, its RSS stays
#            under SLOWLORIS_RSS_MIB (default 400). Fails on main at 1bf5485 (no per-address
#            TFTP cap): the guest's RRQ meets "1024 transfers already running".
#
# "Handed out twice", precisely: an install is one (machine, token) pair: the token in the
# done_url of the script vboot rendered. A machine whose fetch or download was cut by the kill
# may fetch its script again; that is allowed to give it the same install again or `local`. It
# is a double hand-out when one token reaches two machines, when one machine receives two
# different tokens, or when a machine whose installer already called back receives an install
# again. A machine whose install the store committed but that never called back (the kill fell
# between the commit and the script's delivery, or cut its kernel, initrd or callback) gets
# `local` from then on, as the README documents for `once` (at most once, never a reinstall
# loop): counted and printed as "stranded", allowed only for machines the kill interrupted.
#
# Vboot runs as the built binary in network namespaces named vbf-<pid>-*, stopped by PID; the
# namespaces are deleted on exit. Needs root. Every missing prerequisite is a failure.
# Environment: VBOOT=PATH (default .build/debug/vboot), FAULTS_KEEP=1 keeps the work directory.
# Prints the measured figures (lines starting "FIGURE"). The last line is "N passed, N failed";
# the exit status is non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
CLIENT=$HERE/lib/faults-client.py
ALL=(storm postgres diskfull slowloris)
PREFIX=vbf-$$
T_START=$(date +%s.%N)

PASSED=0 FAILED=0
FAILURES=() PIDS=() NAMESPACES=() FIGURES=()
WORK= PG_DATA_DIR= PG_BIN= RIG_LOADED=0

finish() {
    echo
    [ ${#FIGURES[@]} -eq 0 ] || printf 'FIGURE  %s\n' "${FIGURES[@]}"
    [ ${#FAILURES[@]} -eq 0 ] || printf 'failed: %s\n' "${FAILURES[@]}"
    [ "${FAULTS_KEEP:-0}" != 1 ] || [ -z "$WORK" ] || echo "work directory kept: $WORK"
    echo "total $(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

pass() { PASSED=$((PASSED + 1)); printf 'PASS  %-66s %s\n' "$1" "${2:-}"; }
fail() {
    FAILED=$((FAILED + 1)) FAILURES+=("$1")
    printf 'FAIL  %-66s %s\n' "$1" "${2:-}"
    if [ -n "${3:-}" ]; then printf '%s\n' "$3" | tail -n 15 | cut -c1-300 | sed 's/^/        | /'; fi
    return 0
}
figure() { FIGURES+=("$1"); echo "FIGURE  $1"; }
early_fail() {
    fail "$1" "${2:-}"
    finish
    exit 1
}

alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

forget_pid() {
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

stop_pids() { # TERM, up to 10 s, then KILL; only our own PIDs, bounded
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

cleanup() {
    [ "$RIG_LOADED" != 1 ] || rig_down
    [ ${#PIDS[@]} -eq 0 ] || stop_pids "${PIDS[@]}"
    if [ -n "$PG_DATA_DIR" ]; then
        (cd / && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA_DIR" -m immediate -w -t 20 stop >/dev/null 2>&1) || true
    fi
    local ns
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    if [ -n "$WORK" ] && [ -d "$WORK" ] && [ "${FAULTS_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "faults: interrupted" >&2; exit 130' INT TERM

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

# new_ns NAME -> REPLY: a namespace with loopback up, deleted on exit (not called in $(...):
# the subshell would keep the name from the cleanup list)
new_ns() {
    REPLY=$PREFIX-$1
    NAMESPACES+=("$REPLY")
    ip netns add "$REPLY"
    ip -n "$REPLY" link set lo up
}

rss_mib() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo -1; }
hwm_mib() { awk '/^VmHWM:/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo -1; }

# Every vboot here has its API (and /metrics) on loopback at its HTTP port + 1000.
api_port() { echo $(($1 + 1000)); }

# api NS HTTP_PORT DATA_DIR PATH -> the API's JSON (token from DATA_DIR/api-token)
api() {
    ip netns exec "$1" curl -s -m 5 -H "Authorization: Bearer $(cat "$3/api-token" 2>/dev/null)" \
        "http://127.0.0.1:$(api_port "$2")/api/v1$4"
}

# wait_http NS URL TRIES(0.1 s) -> 0 when it answers 200
wait_http() {
    local i
    for ((i = 0; i < $3; i++)); do
        ip netns exec "$1" curl -s -m 1 -o /dev/null -f "$2" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

vboot_tail() { grep -v '\[ServiceLifecycle\]' "$1" 2>/dev/null | tail -n "${2:-15}" | cut -c1-300 || true; }

# mac_of INDEX -> the MAC boot-storm.c gives client INDEX (52:54:00:5X:XX:XX)
mac_of() { printf '52:54:00:%02x:%02x:%02x' $((0x50 | ($1 >> 16 & 15))) $(($1 >> 8 & 255)) $(($1 & 255)); }

# ---------------------------------------------------------------------------------------------
SELECTED=()
for arg in "$@"; do
    case $arg in
        -h | --help) sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d'; exit 0 ;;
        storm | postgres | diskfull | slowloris) SELECTED+=("$arg") ;;
        *) echo "unknown scenario: $arg (known: ${ALL[*]})" >&2; exit 2 ;;
    esac
done
[ ${#SELECTED[@]} -gt 0 ] || SELECTED=("${ALL[@]}")

# Preflight: a missing prerequisite fails the suite (no skips).
[ "$(id -u)" = 0 ] || early_fail "preflight: must run as root (network and mount namespaces, ports 67 and 69)"
for cmd in ip curl python3 cc awk nsenter unshare runuser timeout; do
    command -v "$cmd" >/dev/null || early_fail "preflight: missing command: $cmd"
done
[ -x "$VBOOT" ] || early_fail "preflight: vboot binary not found at $VBOOT (swift build --product vboot)"
[ -f /usr/lib/ipxe/ipxe.efi ] || early_fail "preflight: missing /usr/lib/ipxe/ipxe.efi (apt install ipxe)"

# The interpreter itself, not a version manager's shim (whose start-up would count against vboot).
PY=$(python3 -c 'import sys; print(sys.executable)') || early_fail "preflight: python3 does not run"

WORK=$(mktemp -d /tmp/vboot-faults.XXXXXX)
chmod 755 "$WORK"
cc -O2 -Wall -Wextra -Werror -o "$WORK/boot-storm" "$ROOT/Benchmarks/boot-storm.c" ||
    early_fail "preflight: Benchmarks/boot-storm.c does not build"
echo "faults: vboot $VBOOT, work $WORK, namespaces $PREFIX-*, scenarios: ${SELECTED[*]}"

# Shared inputs of the loopback scenarios: Debian's ipxe.efi, a small kernel and initrd, a
# profile that carries the install's callback URL the way the shipped installer profiles do.
mkdir -p "$WORK/ipxe" "$WORK/assets/storm" "$WORK/boot-scripts/profiles"
cp -L /usr/lib/ipxe/ipxe.efi "$WORK/ipxe/ipxe.efi"
head -c $((1024 * 1024)) /dev/urandom >"$WORK/assets/storm/linux"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$WORK/assets/storm/initrd"
cat >"$WORK/boot-scripts/default.ipxe" <<'EOF'
#!ipxe
echo faults: no script for {{mac}}
exit 1
EOF
cat >"$WORK/boot-scripts/profiles/storm.ipxe" <<'EOF'
#!ipxe
#: title boot-storm install (faults.sh)
echo faults install {{mac}} {{hostname}}
kernel {{assets}}/storm/linux initrd=initrd console=ttyS0 vboot_done={{done_url}}
initrd {{assets}}/storm/initrd
boot
EOF
cat >"$WORK/boot-scripts/profiles/steady.ipxe" <<'EOF'
#!ipxe
#: title a machine that boots the same script every time (faults.sh)
echo faults steady {{mac}} {{hostname}}
kernel {{assets}}/storm/linux initrd=initrd console=ttyS0
initrd {{assets}}/storm/initrd
boot
EOF
chmod -R a+rX "$WORK"

# machines_yaml FIRST COUNT NEXT_BOOT PROFILE PREFIX -> YAML lines for boot-storm's MACs FIRST..
machines_yaml() {
    local i
    for ((i = $1; i < $1 + $2; i++)); do
        printf '  - {mac: "%s", hostname: %s-%03d, profile: %s, next_boot: %s}\n' "$(mac_of "$i")" "$5" "$i" "$4" "$3"
    done
}
PROBE_MAC=52:54:00:5f:ff:01

# inventory_digest JSON -> one sorted line per machine: mac hostname profile created_at (what a
# kill must not change)
inventory_digest() {
    python3 -c 'import json, sys
for m in sorted(json.loads(sys.stdin.read())["machines"], key=lambda m: m["mac"]):
    print(m["mac"], m["hostname"], m["profile"], m["created_at"])' <<<"$1"
}

# ---------------------------------------------------------------------------------------------
scenario_storm() {
    echo
    echo "== storm: kill -9 mid-storm (100 machines, once, SQLite), restart at once"
    local ns data log cfg pid pid2 storm_pid probe_pid i handed killed_at probe health dhcp line1 line2
    local d="$WORK/storm" n=100
    mkdir -p "$d"
    new_ns storm
    ns=$REPLY
    data=$d/data cfg=$d/vboot.yaml log=$d/vboot.log
    {
        echo "machines:"
        machines_yaml 0 "$n" once storm storm
        printf '  - {mac: "%s", hostname: probe, profile: steady, next_boot: profile}\n' "$PROBE_MAC"
    } >"$cfg"
    # --dhcp full: the chain is the same (the OFFER carries the PXE boot file), and vboot keeps
    # leases, which must survive the kill too.
    local serve=("$VBOOT" serve --config "$cfg" --dhcp full --dhcp-range 127.0.1.1-127.0.3.250 --dhcp-netmask 255.0.0.0
        --listen 127.0.0.1 --interface lo --http-port 8080 --api-listen "127.0.0.1:$(api_port 8080)"
        --tftp-port 69 --ipxe-dir "$WORK/ipxe" --assets "$WORK/assets" --boot-scripts "$WORK/boot-scripts"
        --data-dir "$data" --log-level info)
    ip netns exec "$ns" "${serve[@]}" >>"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if ! wait_http "$ns" http://127.0.0.1:8080/health 300; then
        fail "storm: vboot starts" "no /health within 30 s" "$(vboot_tail "$log")"
        return
    fi
    local before after
    before=$(inventory_digest "$(api "$ns" 8080 "$data" /machines)" 2>&1) || before=
    if [ "$(wc -l <<<"$before")" != $((n + 1)) ]; then
        fail "storm: the inventory holds the $((n + 1)) declared machines" "$(wc -l <<<"$before") lines" "$before"
        return
    fi

    # Leases: 20 bound before the storm; 200 more taken one after another through the storm, the
    # kill and the restart (every ACK is written down the moment it arrives).
    if ! ip netns exec "$ns" timeout 60 "$PY" "$CLIENT" leases --first 0 --count 20 --seconds 30 --out "$d/acked.txt" >"$d/leases0.out" 2>&1; then
        fail "storm: 20 DHCP leases bound before the storm" "$(cat "$d/leases0.out")" "$(vboot_tail "$log")"
        return
    fi
    local leases_before
    leases_before=$(api "$ns" 8080 "$data" /leases)
    ip netns exec "$ns" timeout 90 "$PY" "$CLIENT" leases --first 20 --count 200 --interval 0.02 --seconds 60 \
        --out "$d/acked.txt" >"$d/leases1.out" 2>&1 &
    local leases_pid=$!
    PIDS+=("$leases_pid")
    for ((i = 0; i < 100; i++)); do # until the second batch is under way (bounded: 10 s)
        [ "$(wc -l <"$d/acked.txt")" -lt 25 ] || break
        sleep 0.1
    done

    # The probe waits (its interpreter already up) for the restart.
    ip netns exec "$ns" timeout 90 "$PY" "$CLIENT" probe --since-file "$d/t0" --http http://127.0.0.1:8080 \
        --mac "$PROBE_MAC" --wait 70 --limit 10 >"$d/probe.out" 2>&1 &
    probe_pid=$!
    PIDS+=("$probe_pid")

    # The storm: 100 machines started 8 ms apart; short client timeouts so the clients the kill
    # cuts off give up quickly instead of waiting for the server that died.
    local storm_args=(--clients "$n" --once --kernel "$WORK/assets/storm/linux" --initrd "$WORK/assets/storm/initrd"
        --ipxe "$WORK/ipxe/ipxe.efi" --dhcp-timeout 500 --ipxe-timeout 500 --tftp-timeout 500 --retries 4
        --http-timeout 3)
    ip netns exec "$ns" "$WORK/boot-storm" "${storm_args[@]}" --stagger 8 --deadline 60 --results "$d/pass1.txt" \
        >"$d/pass1.out" 2>"$d/pass1.err" &
    storm_pid=$!
    PIDS+=("$storm_pid")
    # Kill once 30 installs went out (bounded: 40 s).
    handed=0
    for ((i = 0; i < 400; i++)); do
        handed=$(grep -c 'install handed out' "$log" || true)
        [ "$handed" -lt 30 ] || break
        alive "$storm_pid" || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
    killed_at=$(grep -c 'install handed out' "$log" || true)
    local acked_at_kill
    acked_at_kill=$(wc -l <"$d/acked.txt")
    # Restart at once, and measure from just before the exec (the probe is already running).
    echo "---- restart after kill -9 ----" >>"$log"
    now_ns >"$d/t0.tmp" && mv "$d/t0.tmp" "$d/t0"
    ip netns exec "$ns" "${serve[@]}" >>"$log" 2>&1 &
    pid2=$!
    PIDS+=("$pid2")
    wait "$probe_pid" 2>/dev/null || true
    forget_pid "$probe_pid"
    probe=$(cat "$d/probe.out" 2>/dev/null)
    health=$(sed -n 's/.*health_ms=\(-\?[0-9]*\).*/\1/p' <<<"$probe")
    dhcp=$(sed -n 's/.*dhcp_ms=\(-\?[0-9]*\).*/\1/p' <<<"$probe")
    figure "storm: kill -9 after $killed_at of $n installs handed out; restart to /health 200: ${health:-?} ms, to a DHCP OFFER: ${dhcp:-?} ms"
    if [ -n "$health" ] && [ -n "$dhcp" ] && [ "$health" -ge 0 ] && [ "$dhcp" -ge 0 ] &&
        [ "$health" -le 1000 ] && [ "$dhcp" -le 1000 ]; then
        pass "storm: serving within 1 s of the restart" "/health ${health} ms, DHCP OFFER ${dhcp} ms"
    else
        fail "storm: serving within 1 s of the restart" "$probe" "$(vboot_tail "$log")"
    fi

    # The first storm goes on against the new process (its DHCP retries reach it); wait for it.
    for ((i = 0; i < 700; i++)); do alive "$storm_pid" || break; sleep 0.1; done
    stop_pids "$storm_pid"
    line1=$(cat "$d/pass1.out")
    local c1 f1
    c1=$(grep -c ' install \| local ' "$d/pass1.txt" || true)
    f1=$(grep -c ' failed ' "$d/pass1.txt" || true)
    figure "storm: first storm (killed mid-way): $c1 of $n machines booted, $f1 cut off"
    if [ "$killed_at" -ge 1 ] && [ "$killed_at" -lt "$n" ] && [ "$f1" -ge 1 ]; then
        pass "storm: the kill fell mid-storm" "$killed_at installs out at the kill, $f1 clients cut off"
    else
        fail "storm: the kill fell mid-storm" "$killed_at installs out at the kill, $f1 cut off" "$line1"
    fi

    # Every machine boots on retry: a second storm of all 100, all must finish (their install,
    # or `local` for those whose install already went out).
    ip netns exec "$ns" timeout 90 "$WORK/boot-storm" "${storm_args[@]}" --stagger 5 --deadline 60 \
        --results "$d/pass2.txt" >"$d/pass2.out" 2>"$d/pass2.err" || true
    line2=$(cat "$d/pass2.out" 2>/dev/null)
    local c2
    c2=$(grep -c ' install \| local ' "$d/pass2.txt" 2>/dev/null || true)
    figure "storm: second storm: $c2 of $n booted ($(grep -c ' install ' "$d/pass2.txt" || true) installs, $(grep -c ' local ' "$d/pass2.txt" || true) local); $(grep -o 'seconds=[0-9.]*' <<<"$line2")"
    if [ "$c2" = "$n" ]; then
        pass "storm: every machine boots on the second storm" "$(grep -o 'completed=[0-9]* failed=[0-9]*' <<<"$line2")"
    else
        fail "storm: every machine boots on the second storm" "$c2 of $n" "$(cat "$d/pass2.err"; grep -v ' install \| local ' "$d/pass2.txt")"
    fi

    # No lease lost: every lease vboot ACKed (before, during and after the kill) is in its table.
    for ((i = 0; i < 600; i++)); do alive "$leases_pid" || break; sleep 0.1; done
    stop_pids "$leases_pid"
    local leases_after lease_check
    leases_after=$(api "$ns" 8080 "$data" /leases)
    lease_check=$(python3 - "$d/acked.txt" <(echo "$leases_before") <(echo "$leases_after") <<'EOF' 2>&1
import json, sys
acked = [l.split() for l in open(sys.argv[1]) if l.strip()]
before = {(l["mac"], l["address"]) for l in json.load(open(sys.argv[2]))["leases"] if l["state"] == "bound"}
after = {(l["mac"], l["address"]) for l in json.load(open(sys.argv[3]))["leases"] if l["state"] == "bound"}
lost = [f"{m} {a}" for m, a in acked if (m, a) not in after]
lost += [f"{m} {a} (bound before the storm)" for m, a in before if (m, a) not in after]
addresses = [a for _, a in after]
print(f"acked={len(acked)} bound_before_storm={len(before)} bound_after={len(after)} lost={len(lost)} "
      f"duplicate_addresses={len(addresses) - len(set(addresses))}")
for x in lost[:10]: print("lost:", x)
EOF
    ) || lease_check="the check did not run"
    figure "storm: leases: $acked_at_kill ACKed before the kill; $(head -n 1 <<<"$lease_check")"
    if grep -q ' lost=0 duplicate_addresses=0$' <<<"$(head -n 1 <<<"$lease_check")" && grep -q '^acked=220 ' <<<"$lease_check"; then
        pass "storm: no DHCP lease lost (every ACKed lease is in the table after)" "$(head -n 1 <<<"$lease_check")"
    else
        fail "storm: no DHCP lease lost (every ACKed lease is in the table after)" "$(head -n 1 <<<"$lease_check")" "$lease_check
$(cat "$d/leases1.out")"
    fi

    # No install handed out twice, from what the clients received (see the header).
    local verdict
    verdict=$(python3 - "$d/pass1.txt" "$d/pass2.txt" <<'EOF'
import sys
tokens_of, macs_of, done_in = {}, {}, {}
for n, path in enumerate(sys.argv[1:], 1):
    for line in open(path):
        mac, outcome, token = line.split()[:3]
        if token != "-":
            tokens_of.setdefault(mac, set()).add(token)
            macs_of.setdefault(token, set()).add(mac)
        if outcome == "install":
            done_in.setdefault(mac, []).append(n)
bad = [f"token {t} reached {sorted(m)}" for t, m in macs_of.items() if len(m) > 1]
bad += [f"{m} received {len(t)} tokens" for m, t in tokens_of.items() if len(t) > 1]
bad += [f"{m} installed in storms {p}" for m, p in done_in.items() if len(p) > 1]
print(f"distinct_installs={len(macs_of)} completed_installs={sum(len(p) for p in done_in.values())} problems={len(bad)}")
for b in bad[:10]: print(b)
EOF
    ) || verdict="the check did not run"
    if grep -q 'problems=0' <<<"$verdict"; then
        pass "storm: no install handed out twice" "$(head -n 1 <<<"$verdict")"
    else
        fail "storm: no install handed out twice" "$(head -n 1 <<<"$verdict")" "$verdict"
    fi

    # The inventory after: the same machines; each either installed (local) or stranded (its
    # install was committed but the kill cut it off: it waits for a callback that cannot come).
    local json state
    json=$(api "$ns" 8080 "$data" /machines)
    after=$(inventory_digest "$json" 2>&1) || after=
    if [ -n "$before" ] && [ "$before" = "$after" ]; then
        pass "storm: no machine lost or changed by the kill" "$(wc -l <<<"$after") machines, same MACs, hostnames, profiles, created_at"
    else
        fail "storm: no machine lost or changed by the kill" "differs" "$(diff <(echo "$before") <(echo "$after") | head -n 20)"
    fi
    echo "$json" >"$d/after.json"
    state=$(python3 - "$d/pass1.txt" "$d/after.json" <<'EOF' 2>&1
import json, sys
cut = {l.split()[0].replace("-", ":") for l in open(sys.argv[1]) if l.split()[1] == "failed"}
local = stranded = other = 0
odd = []
for m in json.load(open(sys.argv[2]))["machines"]:
    if m["hostname"] == "probe": continue
    if m["next_boot"] == "local": local += 1
    elif m["next_boot"] == "once" and m["install_handed_out"]:
        stranded += 1
        if m["mac"] not in cut: odd.append(m["mac"] + " stranded but not cut off by the kill")
    else:
        other += 1; odd.append(f'{m["mac"]} next_boot {m["next_boot"]} handed_out {m["install_handed_out"]}')
print(f"installed={local} stranded={stranded} other={other} problems={len(odd)}")
for o in odd[:10]: print(o)
EOF
    ) || true
    figure "storm: inventory after: $(head -n 1 <<<"$state")"
    if grep -q 'problems=0' <<<"$state"; then
        pass "storm: every machine installed, or stranded only by the kill" "$(head -n 1 <<<"$state")"
    else
        fail "storm: every machine installed, or stranded only by the kill" "$(head -n 1 <<<"$state")" "$state"
    fi
    if alive "$pid2"; then pass "storm: the restarted vboot is still up" "RSS $(rss_mib "$pid2") MiB"; else
        fail "storm: the restarted vboot is still up" "exited" "$(vboot_tail "$log")"; fi
    stop_pids "$pid2"
}

# ---------------------------------------------------------------------------------------------
scenario_diskfull() {
    echo
    echo "== diskfull: the data directory (a 2 MiB tmpfs) fills up under load"
    local ns pid log cfg d="$WORK/diskfull" data i code body verdict out
    mkdir -p "$d/data"
    new_ns disk
    ns=$REPLY
    data=$d/data log=$d/vboot.log cfg=$d/vboot.yaml
    {
        echo "machines:"
        machines_yaml 200 5 profile steady disk
        machines_yaml 210 3 once storm diskonce
    } >"$cfg"
    # The tmpfs exists only in vboot's own mount namespace (unshare -m), so it goes with it. The
    # registration and unknown-event rate limits are lifted: every request here must be a write.
    ip netns exec "$ns" unshare -m --propagation private sh -c 'mount -t tmpfs -o size=2m,mode=700 vbf-data "$0" && exec "$@"' \
        "$data" "$VBOOT" serve --config "$cfg" --dhcp proxy --listen 127.0.0.1 --interface lo --http-port 8080 \
        --api-listen "127.0.0.1:$(api_port 8080)" \
        --tftp-port 69 --ipxe-dir "$WORK/ipxe" --assets "$WORK/assets" --boot-scripts "$WORK/boot-scripts" \
        --data-dir "$data" --api-token-file "$d/api-token" --unknown-machines register --log-level info \
        --registration-rate 100000 --registration-rate-total 100000 --unknown-event-rate 100000 \
        --unknown-event-rate-total 100000 \
        >"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if ! wait_http "$ns" http://127.0.0.1:8080/health 300; then
        fail "diskfull: vboot starts on a 2 MiB tmpfs data dir" "no /health within 30 s" "$(vboot_tail "$log")"
        return
    fi
    in_mnt() { nsenter -t "$pid" -m "$@"; }
    dapi() { ip netns exec "$ns" curl -s -m 5 -H "Authorization: Bearer $(cat "$d/api-token")" "http://127.0.0.1:$(api_port 8080)/api/v1$1"; }
    # Some traffic first (the database and its WAL grow), then fill what is left.
    out=$(ip netns exec "$ns" timeout 60 "$PY" "$CLIENT" burst --server http://127.0.0.1:8080 --first 0 --count 50 2>&1)
    in_mnt dd if=/dev/zero of="$data/filler" bs=4k 2>/dev/null || true
    local avail full_from t0
    avail=$(in_mnt df -k --output=avail "$data" | tail -n 1 | tr -d ' ')
    full_from=$(wc -l <"$log")
    # Under a full disk: 300 unknown machines register (each one a write), known machines boot.
    t0=$(now_ns)
    out=$(ip netns exec "$ns" timeout 120 "$PY" "$CLIENT" burst --server http://127.0.0.1:8080 --first 1000 --count 300 2>&1)
    figure "diskfull: $avail KiB free; 300 new-machine script requests on the full disk: $out in $(ms_since "$t0") ms"
    local errline
    errline=$(tail -n +"$full_from" "$log" | grep -iE 'full|no space|ENOSPC|disk' | grep -iE 'error|fail|cannot|could not' | head -n 1 | cut -c1-220 || true)
    if [ -n "$errline" ]; then
        pass "diskfull: a clear error in the log" "${errline#*vboot: }"
        figure "diskfull: first log line: ${errline#*+0000 }"
    else
        fail "diskfull: a clear error in the log" "no line naming a full disk" "$(tail -n +"$full_from" "$log" | grep -iE 'error|warn' | cut -c1-200 | sort | uniq -c | sort -rn | head -n 8)"
    fi
    local booted=0 offers=0 mac
    for i in 200 201 202 203 204; do
        mac=$(mac_of "$i")
        body=$(ip netns exec "$ns" curl -s -m 5 "http://127.0.0.1:8080/boot.ipxe?mac=${mac//:/-}" || true)
        if grep -q "faults steady ${mac//:/-}" <<<"$body"; then booted=$((booted + 1)); fi
        if ip netns exec "$ns" "$PY" "$CLIENT" dhcp --mac "$mac" --limit 3 >/dev/null 2>&1; then offers=$((offers + 1)); fi
    done
    figure "diskfull: on the full disk: $offers/5 proxyDHCP OFFERs, $booted/5 scripts of known machines"
    if [ "$booted" = 5 ] && [ "$offers" = 5 ]; then
        pass "diskfull: known machines keep booting on the full disk" "5/5 proxyDHCP OFFERs, 5/5 scripts"
    else
        fail "diskfull: known machines keep booting on the full disk" "$offers/5 OFFERs, $booted/5 scripts" "$(vboot_tail "$log")"
    fi
    # A `once` install asked on the full disk: either refused, or handed out AND recorded; never
    # handed out without the record (it would go out again after a restart).
    mac=$(mac_of 210)
    code=$(ip netns exec "$ns" curl -s -m 5 -o "$d/once-full.ipxe" -w '%{http_code}' "http://127.0.0.1:8080/boot.ipxe?mac=${mac//:/-}" || true)
    local recorded
    recorded=$(dapi "/machines/$mac" | python3 -c 'import json, sys; print(json.load(sys.stdin)["install_handed_out"])' 2>&1 || true)
    if grep -q 'token=' "$d/once-full.ipxe" 2>/dev/null; then verdict="install handed out, recorded: $recorded"; else
        verdict="HTTP $code, no install"; fi
    figure "diskfull: a once machine asking on the full disk: $verdict"
    if grep -q 'token=' "$d/once-full.ipxe" 2>/dev/null && [ "$recorded" != True ]; then
        fail "diskfull: no install handed out unrecorded" "$verdict"
    else
        pass "diskfull: no install handed out unrecorded" "$verdict"
    fi
    if alive "$pid"; then pass "diskfull: vboot stays up on the full disk" "RSS $(rss_mib "$pid") MiB"; else
        fail "diskfull: vboot stays up on the full disk" "exited" "$(vboot_tail "$log")"
        return
    fi
    # Space freed: writes work again without a restart.
    in_mnt rm -f "$data/filler"
    t0=$(now_ns)
    local reg="" regms=-1 m
    for ((i = 0; i < 50; i++)); do
        m=02:fa:00:01:00:$(printf %02x "$i")
        ip netns exec "$ns" curl -s -m 3 -o /dev/null "http://127.0.0.1:8080/boot.ipxe?mac=${m//:/-}" || true
        reg=$(dapi "/machines/$m" | python3 -c 'import json, sys; print(json.load(sys.stdin)["mac"])' 2>/dev/null || true)
        if [ -n "$reg" ]; then regms=$(ms_since "$t0"); break; fi
        sleep 0.1
    done
    mac=$(mac_of 211)
    ip netns exec "$ns" curl -s -m 5 -o "$d/once-after.ipxe" "http://127.0.0.1:8080/boot.ipxe?mac=${mac//:/-}" || true
    recorded=$(dapi "/machines/$mac" | python3 -c 'import json, sys; print(json.load(sys.stdin)["install_handed_out"])' 2>&1 || true)
    figure "diskfull: space freed: a new machine registered after $regms ms; a once install after it: recorded: $recorded"
    if [ -n "$reg" ] && grep -q 'token=' "$d/once-after.ipxe" && [ "$recorded" = True ]; then
        pass "diskfull: writes work again once space is freed (no restart)" "registered after $regms ms, install recorded"
    else
        fail "diskfull: writes work again once space is freed (no restart)" "registered: ${reg:-no}, install recorded: $recorded" "$(vboot_tail "$log")"
    fi
    stop_pids "$pid"
}

# ---------------------------------------------------------------------------------------------
scenario_postgres() {
    echo
    echo "== postgres: the database restarted under two vboot servers"
    local ns d="$WORK/postgres" url pa pb i t_down t_up out macs=80 ticks_pid worst state pgbin sock
    # A cluster of our own (Debian's PostgreSQL binaries, a Unix socket only, trust auth), so the
    # restart disturbs nobody else's database on this host; stopped on exit.
    pgbin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ] || ! id postgres >/dev/null 2>&1; then
        fail "postgres: PostgreSQL is installed" "no /usr/lib/postgresql/*/bin/initdb or no postgres user (apt install postgresql)"
        return
    fi
    mkdir -p "$d/pgdata" "$d/pgsock"
    chown postgres: "$d/pgdata" "$d/pgsock"
    chmod 755 "$d"
    sock=$d/pgsock
    as_pg() { (cd / && runuser -u postgres -- "$@"); }
    if ! as_pg "$pgbin/initdb" -D "$d/pgdata" -A trust -U vboot >"$d/initdb.log" 2>&1 ||
        ! printf "listen_addresses = ''\nport = 5499\nunix_socket_directories = '%s'\n" "$sock" >>"$d/pgdata/postgresql.conf" ||
        ! as_pg "$pgbin/pg_ctl" -D "$d/pgdata" -l "$d/pgsock/postgres.log" -w -t 30 start >>"$d/initdb.log" 2>&1; then
        fail "postgres: a private PostgreSQL cluster starts" "initdb or pg_ctl start failed" "$(cat "$d/initdb.log" "$d/pgsock/postgres.log" 2>/dev/null)"
        return
    fi
    PG_DATA_DIR=$d/pgdata PG_BIN=$pgbin
    if ! as_pg "$pgbin/createdb" -h "$sock" -p 5499 -U vboot vboot_faults >>"$d/initdb.log" 2>&1; then
        fail "postgres: a private PostgreSQL cluster starts" "createdb failed" "$(cat "$d/initdb.log")"
        return
    fi
    url="postgres://vboot@localhost:5499/vboot_faults?host=$sock"
    new_ns pg
    ns=$REPLY
    {
        echo "machines:"
        machines_yaml 300 "$macs" once storm pg
    } >"$d/vboot.yaml"
    for ((i = 300; i < 300 + macs; i++)); do mac_of "$i" | tr : -; echo; done >"$d/macs.txt"
    start_pg_vboot() { # NAME PORT -> PID in $REPLY
        ip netns exec "$ns" "$VBOOT" serve --config "$d/vboot.yaml" --dhcp off --listen 127.0.0.1 --http-port "$2" \
            --api-listen "127.0.0.1:$(api_port "$2")" \
            --tftp-port "$((2 + $2 - 8000))" --boot-scripts "$WORK/boot-scripts" --assets "$WORK/assets" \
            --data-dir "$d/data-$1" --database "$url" --log-level info >"$d/$1.log" 2>&1 &
        REPLY=$!
        PIDS+=("$REPLY")
    }
    start_pg_vboot a 8081
    pa=$REPLY
    if ! wait_http "$ns" http://127.0.0.1:8081/health 300; then
        fail "postgres: two vboot servers start on one database" "a: no /health" "$(vboot_tail "$d/a.log")"
        return
    fi
    start_pg_vboot b 8082
    pb=$REPLY
    if ! wait_http "$ns" http://127.0.0.1:8082/health 300; then
        fail "postgres: two vboot servers start on one database" "b: no /health" "$(vboot_tail "$d/b.log")"
        return
    fi
    # Every 0.15 s the next machine is asked of both servers at once; the cluster restarts 2 s in.
    ip netns exec "$ns" timeout 60 "$PY" "$CLIENT" ticks --servers http://127.0.0.1:8081,http://127.0.0.1:8082 \
        --macs "$d/macs.txt" --interval 0.15 --timeout 3 --out "$d/ticks.txt" &
    ticks_pid=$!
    PIDS+=("$ticks_pid")
    sleep 2
    t_down=$(now_ns)
    # Down for 2 s (a package upgrade or a failover takes longer than pg_ctl restart's ~0.5 s).
    as_pg "$pgbin/pg_ctl" -D "$d/pgdata" -w -t 30 -m fast stop >"$d/restart.log" 2>&1 ||
        fail "postgres: pg_ctl stop" "failed" "$(cat "$d/restart.log")"
    sleep 2
    as_pg "$pgbin/pg_ctl" -D "$d/pgdata" -l "$d/pgsock/postgres.log" -w -t 30 start >>"$d/restart.log" 2>&1 ||
        fail "postgres: pg_ctl start" "failed" "$(cat "$d/restart.log")"
    t_up=$(now_ns)
    for ((i = 0; i < 600; i++)); do alive "$ticks_pid" || break; sleep 0.1; done
    stop_pids "$ticks_pid"
    # Machines no server answered during the outage: asked again of both, after it.
    awk '{ n[$3] += ($4 == 200) } END { for (m in n) if (!n[m]) print m }' "$d/ticks.txt" >"$d/retry.txt"
    if [ -s "$d/retry.txt" ]; then
        ip netns exec "$ns" timeout 60 "$PY" "$CLIENT" ticks --servers http://127.0.0.1:8081,http://127.0.0.1:8082 \
            --macs "$d/retry.txt" --interval 0.05 --timeout 3 --out "$d/ticks.txt" || true
    fi
    out=$(python3 - "$d/ticks.txt" "$t_down" "$t_up" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1])]
down, up = int(sys.argv[2]), int(sys.argv[3])
res = []
for server in sorted({r[1] for r in rows}):
    mine = sorted((int(r[0]), r[3]) for r in rows if r[1] == server)
    slowest = max(int(r[6]) for r in rows if r[1] == server)
    errs = [t for t, st in mine if st != "200"]
    back = [t for t, st in mine if st == "200" and t > up and (not errs or t > errs[0])]
    port = server.rsplit(":", 1)[1]
    res.append(f"server_{port}_errors={len(errs)} server_{port}_first_200_after_restart_s="
               + (f"{(back[0] - up) / 1e9:.2f}" if back else "never")
               + (f" server_{port}_error_window_s={(errs[-1] - errs[0]) / 1e9:.2f}" if errs else "")
               + f" server_{port}_slowest_answer_ms={slowest}")
installs, tokens = {}, {}
for r in rows:
    if r[4] == "install":
        installs.setdefault(r[2], []).append(r[1])
        tokens.setdefault(r[5], set()).add(r[2])
double = [f"{m} got {len(s)} installs ({', '.join(s)})" for m, s in installs.items() if len(s) > 1]
double += [f"token {t} reached {sorted(m)}" for t, m in tokens.items() if len(m) > 1]
macs = {r[2] for r in rows}
none = sorted(m for m in macs if m not in installs)
print(" ".join(res))
print(f"machines={len(macs)} with_one_install={sum(1 for s in installs.values() if len(s) == 1)} "
      f"double={len(double)} without_install={len(none)}")
for x in double[:10]: print(x)
print("without:", " ".join(none[:20]))
EOF
    ) || out="the check did not run"
    figure "postgres: down (pg_ctl -m fast stop, 2 s, start) for $(((t_up - t_down) / 1000000)) ms; $(head -n 1 <<<"$out")"
    figure "postgres: $(sed -n 2p <<<"$out")"
    worst=$(head -n 1 <<<"$out" | grep -oE 'first_200_after_restart_s=[0-9.a-z]+' | cut -d= -f2 | sort -g | tail -n 1)
    if [ -n "$worst" ] && [ "$worst" != never ] && awk -v w="$worst" 'BEGIN { exit !(w <= 5) }' &&
        [ "$(grep -o 'first_200' <<<"$out" | wc -l)" = 2 ]; then
        pass "postgres: both servers serve scripts again within 5 s" "$(head -n 1 <<<"$out" | grep -oE 'first_200[^ ]*' | paste -sd ' ')"
    else
        fail "postgres: both servers serve scripts again within 5 s" "$(head -n 1 <<<"$out")" "$(vboot_tail "$d/a.log" 8; vboot_tail "$d/b.log" 8)"
    fi
    if grep -q ' double=0 ' <<<"$out"; then
        pass "postgres: no machine got two installs" "$(sed -n 2p <<<"$out")"
    else
        fail "postgres: no machine got two installs" "$(sed -n 2p <<<"$out")" "$out"
    fi
    # In the store every machine's install went out exactly once; a machine no client received an
    # install for was committed while its answer was lost (stranded): printed above, not failed.
    state=$(api "$ns" 8081 "$d/data-a" /machines | python3 -c 'import json, sys
ms = [m for m in json.load(sys.stdin)["machines"] if m["hostname"].startswith("pg-")]
out = sum(1 for m in ms if m["install_handed_out"])
print(f"in_store={len(ms)} handed_out={out}")' 2>&1) || true
    figure "postgres: store after: $state"
    if [ "$state" = "in_store=$macs handed_out=$macs" ]; then
        pass "postgres: every machine's install went out (once) in the store" "$state"
    else
        fail "postgres: every machine's install went out (once) in the store" "$state" "$(sed -n '3,$p' <<<"$out")"
    fi
    if alive "$pa" && alive "$pb"; then pass "postgres: both servers stay up" "RSS $(rss_mib "$pa") and $(rss_mib "$pb") MiB"; else
        fail "postgres: both servers stay up" "one exited" "$(vboot_tail "$d/a.log"; vboot_tail "$d/b.log")"; fi
    stop_pids "$pa" "$pb"
}

# ---------------------------------------------------------------------------------------------
scenario_slowloris() {
    echo
    echo "== slowloris: 1,000 slowloris HTTP connections + 1,000 silent TFTP clients while OVMF boots"
    local limit=${SLOWLORIS_LIMIT:-60} rss_cap=${SLOWLORIS_RSS_MIB:-400} f
    for f in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd; do
        if [ ! -f "$f" ]; then fail "slowloris: OVMF is installed" "missing $f (apt install ovmf)"; return; fi
    done
    for f in qemu-system-x86_64 dnsmasq; do
        if ! command -v "$f" >/dev/null; then fail "slowloris: $f is installed" "missing command $f"; return; fi
    done
    # The QEMU rig (three namespaces on one bridge); an attacker host joins the same segment.
    RIG=${PREFIX}s RIG_DIR=$WORK/slowloris
    mkdir -p "$RIG_DIR/boot-scripts/machines" "$RIG_DIR/data"
    # shellcheck source=SCRIPTDIR/lib/rig.sh
    . "$HERE/lib/rig.sh"
    RIG_LOADED=1
    NAMESPACES+=("$(rig_ns lan)" "$(rig_ns site)" "$(rig_ns boot)" "$(rig_ns evil)")
    rig_up
    rig_site_dhcp
    local evil lan attacker_ip=${RIG_NET}.66
    evil=$(rig_ns evil) lan=$(rig_ns lan)
    ip netns add "$evil"
    ip -n "$lan" link add to-evil type veth peer name eth0 netns "$evil"
    ip -n "$lan" link set to-evil master br0 up
    ip -n "$evil" link set lo up
    ip -n "$evil" link set eth0 up
    ip -n "$evil" addr add "$attacker_ip/24" dev eth0

    local mac=52:54:00:e2:f0:01 marker="faults-slowloris booted"
    cat >"$RIG_DIR/boot-scripts/machines/${mac//:/-}.ipxe" <<EOF
#!ipxe
echo $marker \${net0/mac} {{mac}}
shell
EOF
    cp "$WORK/boot-scripts/default.ipxe" "$RIG_DIR/boot-scripts/"
    chmod -R a+rX "$RIG_DIR"
    ip netns exec "$(rig_ns boot)" "$VBOOT" serve --listen "$BOOT_IP" --interface eth0 --dhcp proxy --http-port 8080 \
        --api-listen "127.0.0.1:$(api_port 8080)" \
        --boot-scripts "$RIG_DIR/boot-scripts" --ipxe-dir "$WORK/ipxe" --assets "$WORK/assets" \
        --data-dir "$RIG_DIR/data" --log-level info >"$RIG_DIR/vboot.log" 2>&1 &
    local vpid=$!
    RIG_PIDS+=("$vpid")
    if ! wait_http "$(rig_ns boot)" "http://$BOOT_IP:8080/health" 300; then
        fail "slowloris: vboot starts in the rig" "no /health within 30 s" "$(vboot_tail "$RIG_DIR/vboot.log")"
        return
    fi
    local rss0
    rss0=$(rss_mib "$vpid")
    # The attack, from one address, for as long as the guest may take.
    ip netns exec "$evil" timeout $((limit + 30)) "$PY" "$CLIENT" slowloris --host "$BOOT_IP" --port 8080 --count 1000 \
        --seconds $((limit + 15)) --drip 5 >"$RIG_DIR/slowloris.out" 2>&1 &
    RIG_PIDS+=($!)
    ip netns exec "$evil" timeout $((limit + 30)) "$PY" "$CLIENT" tftp --server "$BOOT_IP" --count 1000 \
        --seconds $((limit + 15)) --cycle 3 >"$RIG_DIR/tftp-flood.out" 2>&1 &
    RIG_PIDS+=($!)
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q 'connections open' "$RIG_DIR/slowloris.out" 2>/dev/null && break
        sleep 0.2
    done
    local held
    held=$(ip netns exec "$(rig_ns boot)" ss -Htn state established "( sport = :8080 )" 2>/dev/null | wc -l)
    echo "   attack running: $(head -n 1 "$RIG_DIR/slowloris.out" 2>/dev/null); vboot holds $held TCP connections"

    # The guest: OVMF, no option ROM: UEFI PXE -> proxyDHCP -> TFTP ipxe.efi -> iPXE -> HTTP script.
    local start took=-1 peak=0 r
    start=$(date +%s.%N)
    rig_guest guest "$mac" uefi none
    for ((i = 0; i < limit * 2; i++)); do
        if rig_plain "$RIG_DIR/guest.serial" | grep -F -- "$marker ${mac} ${mac//:/-}" >/dev/null; then
            took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
            break
        fi
        r=$(rss_mib "$vpid")
        [ "$r" -le "$peak" ] || peak=$r
        alive "$vpid" || break
        sleep 0.5
    done
    local hwm metrics
    hwm=$(hwm_mib "$vpid")
    held=$(ip netns exec "$(rig_ns boot)" ss -Htn state established "( sport = :8080 )" 2>/dev/null | wc -l)
    metrics=$(ip netns exec "$(rig_ns boot)" curl -s -m 5 "http://127.0.0.1:$(api_port 8080)/metrics" 2>/dev/null |
        grep -E '^vboot_(tftp_(transfers_(started|completed|failed)|requests_refused)|http_scripts_served)[a-z_]*[ {]' |
        sed 's/^vboot_//; s/_total / /' | paste -sd ' ' - || true)
    figure "slowloris: guest booted to its script in ${took} s under attack (limit ${limit} s); vboot RSS idle ${rss0} MiB, peak ${hwm} MiB (sampled ${peak}); $held HTTP connections held at the end"
    # How the guest got iPXE: its own TFTP transfer (the PXE path), or refused there and rescued
    # minutes later by OVMF's UEFI HTTP boot fallback.
    local net_re=${RIG_NET//./\\.} guest_tftp guest_refused
    guest_tftp=$(grep -E "tftp: ${net_re}\.1[0-5][0-9]:[0-9]+ ipxe\.efi: sent" "$RIG_DIR/vboot.log" | head -n 1 | cut -c1-200 || true)
    guest_refused=$(grep -E "tftp: ${net_re}\.1[0-5][0-9]:[0-9]+ " "$RIG_DIR/vboot.log" |
        grep -iE 'refus|busy|already running|limit|cap' | head -n 1 | cut -c1-200 || true)
    figure "slowloris: the guest's TFTP: ${guest_tftp:+sent: ${guest_tftp#*tftp: }}${guest_tftp:-no transfer}${guest_refused:+; refused: ${guest_refused#*tftp: }}"
    figure "slowloris: vboot /metrics: ${metrics:-unavailable}"
    if [ -n "$guest_tftp" ] && [ -z "$guest_refused" ]; then
        pass "slowloris: the guest's own TFTP transfer is served under attack" "${guest_tftp#*tftp: }"
    else
        fail "slowloris: the guest's own TFTP transfer is served under attack" "${guest_refused:-no transfer of ipxe.efi to the guest}"
    fi
    if [ "$took" -ge 0 ]; then
        pass "slowloris: the OVMF guest boots to its script within ${limit} s" "${took} s"
    else
        fail "slowloris: the OVMF guest boots to its script within ${limit} s" "not within ${limit} s" \
            "$(rig_plain "$RIG_DIR/guest.serial" | tail -n 12; grep -E 'tftp' "$RIG_DIR/vboot.log" | grep -v ' 10\.77\.0\.66' | tail -n 5)"
    fi
    if alive "$vpid"; then pass "slowloris: vboot stays up" "$(grep -c . "$RIG_DIR/vboot.log") log lines"; else
        fail "slowloris: vboot stays up" "exited" "$(vboot_tail "$RIG_DIR/vboot.log")"; fi
    if [ "$hwm" -ge 0 ] && [ "$hwm" -le "$rss_cap" ]; then
        pass "slowloris: vboot's RSS stays under $rss_cap MiB" "peak ${hwm} MiB (idle ${rss0})"
    else
        fail "slowloris: vboot's RSS stays under $rss_cap MiB" "peak ${hwm} MiB"
    fi
    rig_down
    ip netns del "$evil" 2>/dev/null || true
    RIG_LOADED=0
}

for s in "${SELECTED[@]}"; do
    "scenario_$s"
done
finish
