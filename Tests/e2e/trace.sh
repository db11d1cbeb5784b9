#!/usr/bin/env bash
# `vboot trace` against boots that go wrong on purpose: each scenario stages one failure with real
# processes in the e2e rig's namespaces (OVMF guests, vboot, the site's dnsmasq, a second
# dnsmasq), traces the bridge live (`vboot trace --interface br0 --write`), ends the trace with
# SIGINT, and checks that the verdict names the cause, live and again from the written capture
# (`vboot trace --read --json`). vboot itself runs with `--capture eth0` (as the vboot user, with
# CAP_NET_RAW kept): the machine's timeline must show what vboot decided and the other servers'
# answers it saw on the wire (`vboot machines timeline --json`).
#
#   Tests/e2e/trace.sh [SCENARIO...]      default: all
#
#   site-boot-file  the site's dnsmasq also offers a boot file and next-server (no TFTP behind them)
#   second-proxy    a second proxyDHCP (dnsmasq in proxy mode with its own pxe-service) beside vboot:
#                   iPXE takes one of the two proxy offers (their arrival decides): the other one
#                   leaves it nothing to boot, vboot's boots it; either way the verdict names the other
#   ipxe-missing    vboot started with an empty --ipxe-dir: it has nothing to offer
#   killed-tftp     vboot killed (SIGKILL) in the middle of the firmware's TFTP transfer
#   kernel-404      the machine's script asks for a kernel vboot does not have
#
# Environment: VBOOT (binary, default .build/debug/vboot), E2E_JOBS (scenarios at once, default 2),
# E2E_KEEP=1 keeps the work directory. Needs root. The last line is "N passed, N failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
HTTP_PORT=8080
QUIET=5
ALL=(site-boot-file second-proxy ipxe-missing killed-tftp kernel-404)
declare -A MAC EXPECT
MAC[site-boot-file]=52:54:00:e2:f0:01 EXPECT[site-boot-file]=competing-boot-servers
MAC[second-proxy]=52:54:00:e2:f0:02 EXPECT[second-proxy]='competing-boot-servers|booted'
MAC[ipxe-missing]=52:54:00:e2:f0:03 EXPECT[ipxe-missing]=no-boot-offer
MAC[killed-tftp]=52:54:00:e2:f0:04 EXPECT[killed-tftp]=tftp-stalled
MAC[kernel-404]=52:54:00:e2:f0:05 EXPECT[kernel-404]=http-error

SELECTED=("$@")
[ ${#SELECTED[@]} -gt 0 ] || SELECTED=("${ALL[@]}")
for s in "${SELECTED[@]}"; do
    [ -n "${MAC[$s]:-}" ] || { echo "unknown scenario $s (one of: ${ALL[*]})"; echo "0 passed, 1 failed"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$VBOOT" ] || { echo "no vboot binary at $VBOOT"; echo "0 passed, 1 failed"; exit 1; }

WORK=$(mktemp -d /tmp/vboot-trace-e2e.XXXXXX)
chmod 755 "$WORK"
RUN_ID=tr$(printf '%x' $$)

# One scenario in a subshell with its own rig; writes $WORK/<s>.result: PASS <detail> | FAIL <reason>.
run_scenario() {
    local s=$1 mac=${MAC[$s]}
    RIG=$RUN_ID${s:0:6}
    RIG_DIR=$WORK/$s
    mkdir -p "$RIG_DIR"
    RIG_SITE_ARGS=()
    # shellcheck source=SCRIPTDIR/lib/rig.sh
    . "$HERE/lib/rig.sh"
    local result=$WORK/$s.result
    echo "FAIL aborted before finishing" >"$result"
    trap rig_down EXIT
    fail() { echo "FAIL $*" >"$result"; exit 1; }

    [ "$s" != site-boot-file ] || RIG_SITE_ARGS=(--dhcp-boot=pxelinux.0)
    rig_up
    rig_site_dhcp
    if [ "$s" = second-proxy ]; then
        rig_host other "${RIG_NET}.3"
        mkdir -p "$RIG_DIR/other-tftp"
        chmod o+rx "$RIG_DIR/other-tftp"
        # dnsmasq calls option 93's 7 (x86-64 UEFI, as OVMF sends it) BC_EFI, after RFC 4578's first table.
        ip netns exec "$(rig_ns other)" dnsmasq --no-daemon --port=0 --interface=eth0 --bind-interfaces \
            --dhcp-range="${RIG_NET}.0,proxy" --pxe-service=BC_EFI,"other boot server",other.efi \
            --enable-tftp --tftp-root="$RIG_DIR/other-tftp" --log-dhcp \
            --dhcp-leasefile="$RIG_DIR/other.leases" >"$RIG_DIR/other.log" 2>&1 &
        RIG_PIDS+=($!)
    fi

    # vboot's inputs: the shipped scripts, an assets tree, a per-MAC script for kernel-404.
    mkdir -p "$RIG_DIR/boot-scripts/machines" "$RIG_DIR/assets" "$RIG_DIR/data" "$RIG_DIR/ipxe"
    cp "$ROOT/boot-scripts/default.ipxe" "$RIG_DIR/boot-scripts/"
    cp -r "$ROOT/boot-scripts/profiles" "$RIG_DIR/boot-scripts/"
    [ "$s" != kernel-404 ] ||
        printf '#!ipxe\necho vboot-trace-e2e kernel-404\nkernel http://%s:%s/assets/missing/linux || shell\nboot\n' \
            "$BOOT_IP" "$HTTP_PORT" >"$RIG_DIR/boot-scripts/machines/${mac//:/-}.ipxe"
    local ipxe=()
    case $s in
        ipxe-missing) ipxe=(--ipxe-dir "$RIG_DIR/ipxe") ;;
        killed-tftp)
            # A boot file that takes long enough to send to be cut in the middle; the firmware
            # never gets to run it.
            head -c 64M /dev/zero >"$RIG_DIR/ipxe/ipxe.efi"
            ipxe=(--ipxe-dir "$RIG_DIR/ipxe")
            ;;
    esac

    # The live trace, on the bridge: every host's packets.
    ip netns exec "$(rig_ns lan)" "$VBOOT" trace --interface br0 --vboot "$BOOT_IP" --quiet-after "$QUIET" \
        --write "$RIG_DIR/trace.pcap" >"$RIG_DIR/trace.live" 2>"$RIG_DIR/trace.err" &
    local trace_pid=$!
    RIG_PIDS+=("$trace_pid")
    wait_for "$RIG_DIR/trace.live" "^tracing on br0" 20 || fail "vboot trace did not start: $(tail -n 3 "$RIG_DIR/trace.err")"

    ip netns exec "$(rig_ns boot)" "$VBOOT" serve --listen "$BOOT_IP" --interface eth0 --dhcp proxy \
        --http-port "$HTTP_PORT" --boot-scripts "$RIG_DIR/boot-scripts" --assets "$RIG_DIR/assets" \
        --data-dir "$RIG_DIR/data" --capture eth0 "${ipxe[@]}" >"$RIG_DIR/vboot.stdout" 2>"$RIG_DIR/vboot.log" &
    local vboot_pid=$!
    RIG_PIDS+=("$vboot_pid")
    local i code=000
    for ((i = 0; i < 60; i++)); do
        rig_alive "$vboot_pid" || fail "vboot exited during startup: $(tail -n 3 "$RIG_DIR/vboot.log")"
        code=$(ip netns exec "$(rig_ns boot)" curl -s -m 2 -o /dev/null -w '%{http_code}' \
            "http://$BOOT_IP:$HTTP_PORT/health" || true)
        [ "$code" != 000 ] && break
        sleep 0.5
    done
    [ "$code" != 000 ] || fail "vboot HTTP did not answer within 30 s"
    sleep 0.5

    local rom=none
    [ "$s" != kernel-404 ] || rom=default
    # Interface names are at most 15 characters: the guest (and its tap) is named by its MAC's last octet.
    local guest=g${mac##*:}
    rig_guest "$guest" "$mac" uefi "$rom"
    # Until the failure has happened (bounded), then QUIET+2 s of silence for the verdict.
    case $s in
        site-boot-file)
            # iPXE takes the site's boot file from the ACK and asks the site server for it.
            wait_for "$RIG_DIR/trace.live" "TFTP read pxelinux.0 from ${RIG_NET}.1" 180 ||
                fail "iPXE never asked the site server for pxelinux.0"
            ;;
        second-proxy)
            # iPXE asks the proxyDHCP whose offer it took for its options, on port 4011: the other
            # one (then nothing to boot) or vboot (then its script), as the offers' arrival goes.
            wait_for "$RIG_DIR/trace.live" "PXE boot server REQUEST to ${RIG_NET}.3:4011|HTTP 200 OK for /boot.ipxe" 180 ||
                fail "iPXE asked neither proxyDHCP"
            ;;
        ipxe-missing)
            # The firmware repeats its DISCOVER (after 4, 8, 16 s) and gets addresses only.
            wait_for "$RIG_DIR/trace.live" "$mac  DHCP DISCOVER" 120 || fail "no DISCOVER from the guest"
            sleep 15
            ;;
        killed-tftp)
            wait_for "$RIG_DIR/trace.live" "TFTP read ipxe.efi from $BOOT_IP \(blksize" 120 ||
                fail "the firmware never started the real read of ipxe.efi"
            sleep 1
            kill -KILL "$vboot_pid" 2>/dev/null || true
            ;;
        kernel-404)
            wait_for "$RIG_DIR/trace.live" "HTTP 404 Not Found for /assets/missing/linux" 180 ||
                fail "no 404 for the missing kernel in the live trace"
            ;;
    esac
    sleep $((QUIET + 2))
    kill -INT "$trace_pid"
    for ((i = 0; i < 40; i++)); do rig_alive "$trace_pid" || break; sleep 0.25; done
    rig_alive "$trace_pid" && fail "vboot trace did not end on SIGINT"
    wait "$trace_pid" 2>/dev/null || fail "vboot trace exited non-zero: $(tail -n 3 "$RIG_DIR/trace.err")"

    # Live: the story's steps as they happened, then its verdict.
    grep -q "  $mac  DHCP DISCOVER" "$RIG_DIR/trace.live" || fail "no live step for $mac"
    local live
    live=$(sed -n "/^$mac/,/^\$/p" "$RIG_DIR/trace.live" | grep "  => " | head -n 1 || true)
    [[ $live =~ \[(${EXPECT[$s]})\]$ ]] || fail "live verdict: ${live:-none} (expected ${EXPECT[$s]})"
    # Offline, from the capture the live trace wrote. A capture file does not say when it was
    # stopped, only when its last packet came: --quiet-after 0 judges every boot in it as over.
    "$VBOOT" trace --read "$RIG_DIR/trace.pcap" --vboot "$BOOT_IP" --quiet-after 0 --mac "$mac" --json \
        >"$RIG_DIR/verdict.json" 2>"$RIG_DIR/read.err" || fail "vboot trace --read failed: $(cat "$RIG_DIR/read.err")"
    local offline
    offline=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["stories"]; print(s[0]["verdict"]["cause"] if s else "no story")' \
        "$RIG_DIR/verdict.json")
    [[ $offline =~ ^(${EXPECT[$s]})$ ]] || fail "offline verdict: $offline (expected ${EXPECT[$s]})"
    # What each scenario's verdict must say besides its cause.
    case $s in
        site-boot-file) [[ $live == *"it followed ${RIG_NET}.1's boot offer instead of vboot's"* ]] || fail "the site server is not named: $live" ;;
        second-proxy)
            # Booted or not, the verdict names the other proxyDHCP: as the cause, or as a warning.
            sed -n "/^$mac/,/^\$/p" "$RIG_DIR/trace.live" | grep -E "=> .*${RIG_NET//./\\.}\.3|warning: ${RIG_NET//./\\.}\.3 offered proxy" >/dev/null ||
                fail "the second proxyDHCP is not named: $live"
            ;;
        ipxe-missing) [[ $live == *"vboot ($BOOT_IP) sent no offer"* ]] || fail "vboot's silence is not named: $live" ;;
        killed-tftp) [[ $live == *"the TFTP transfer of ipxe.efi from $BOOT_IP stopped at block"* ]] || fail "no block in: $live" ;;
        kernel-404) [[ $live == *"GET /assets/missing/linux"*"404"* ]] || fail "the kernel is not named: $live" ;;
    esac
    # vboot's side of the same boot (not after killed-tftp: vboot is gone): its own decisions and,
    # from --capture, the other servers' answers, on the machine's timeline.
    local timeline="" net=${RIG_NET//./\\.}
    if [ "$s" != killed-tftp ]; then
        sleep 1 # the recorder writes every 250 ms
        ip netns exec "$(rig_ns boot)" timeout 30 "$VBOOT" machines timeline "$mac" --limit 500 --json \
            --token-file "$RIG_DIR/data/api-token" >"$RIG_DIR/timeline.json" 2>"$RIG_DIR/timeline.err" ||
            fail "vboot machines timeline: $(tail -n 2 "$RIG_DIR/timeline.err")"
        ip netns exec "$(rig_ns boot)" timeout 30 "$VBOOT" machines timeline "$mac" --limit 50 \
            --token-file "$RIG_DIR/data/api-token" >"$RIG_DIR/timeline.txt" 2>&1 || true
        # One line per event: kind outcome server competes summary.
        timeline=$(python3 -c 'import json,sys
for e in json.load(open(sys.argv[1]))["events"]:
    d = e["details"]; print(e["kind"], e["outcome"], d.get("server", "-"), d.get("competes", "-"), e["summary"])' \
            "$RIG_DIR/timeline.json")
        # The firmware asks for broadcast answers, so vboot's port of the bridge gets the site's
        # too; iPXE (kernel-404's ROM) does not, and a bridge, like a switch, delivers a unicast
        # answer to its client's port alone.
        [ "$s" = kernel-404 ] || grep -q "^wire ok ${net}\.1 " <<<"$timeline" ||
            fail "no wire event for the site's answers in the timeline"
        case $s in
            site-boot-file)
                grep -q "^wire ok ${net}\.1 true .*boot pxelinux\.0" <<<"$timeline" ||
                    fail "the site's competing boot offer is not on the timeline"
                grep -q "capture: ${RIG_NET}.1 also offers network boot, .* it sent OFFER: .*boot pxelinux.0" "$RIG_DIR/vboot.log" ||
                    fail "vboot did not warn about the site's boot offer"
                ;;
            second-proxy)
                grep -q "^wire ok ${net}\.3 true .*(proxy)" <<<"$timeline" ||
                    fail "the second proxyDHCP's offer is not on the timeline"
                ;;
            ipxe-missing)
                grep -q "^dhcp refused - - .*silent, none of .* is installed" <<<"$timeline" ||
                    fail "vboot's own reason for its silence is not on the timeline"
                ;;
        esac
        if [ "$s" != site-boot-file ] && [ "$s" != second-proxy ]; then
            ! grep -q "^wire ok [0-9.]* true" <<<"$timeline" || fail "a competing offer where there is none"
        fi
        grep -q "privileges: running as uid [1-9][0-9]*, .*capabilities CAP_NET_BIND_SERVICE, CAP_NET_RAW" \
            "$RIG_DIR/vboot.log" || fail "vboot did not run unprivileged with CAP_NET_RAW for --capture"
    fi
    echo "PASS ${live#*=> }${timeline:+; timeline: $(grep -c '^wire' <<<"$timeline") wire events}" >"$result"
}

JOBS=${E2E_JOBS:-2}
for s in "${SELECTED[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    (run_scenario "$s") >"$WORK/$s.out" 2>&1 &
done
wait || true

passed=0 failed=0
for s in "${SELECTED[@]}"; do
    result=$(cat "$WORK/$s.result" 2>/dev/null || echo "FAIL no result")
    echo "${result%% *}  $s: ${result#* }"
    if [[ $result == PASS* ]]; then passed=$((passed + 1)); else
        failed=$((failed + 1))
        echo "---- $s: live trace (last 25 lines)"; tail -n 25 "$WORK/$s/trace.live" 2>/dev/null || true
        echo "---- $s: vboot log (last 10 lines)"; grep -v ServiceLifecycle "$WORK/$s/vboot.log" 2>/dev/null | tail -n 10 | cut -c1-300 || true
    fi
done
if [ "$failed" -gt 0 ] || [ "${E2E_KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
