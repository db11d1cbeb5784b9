#!/usr/bin/env bash
# The web console in a real browser while a real OVMF guest boots through vboot.
#
#   Tests/e2e/console.sh
#
# The e2e rig (lib/rig.sh: the site's dnsmasq, vboot in proxy mode), vboot's API on the boot
# host's loopback (token only) and on its LAN address (that subnet is an --api-read-network).
# Debian's Chromium, headless, driven by Selenium (lib/console-browser.py, run in the boot
# namespace): sign in (a wrong token refused), add a machine, filter and sort the table, edit its
# variables, install once with the debian profile; then the guest powers on and its DHCP, TFTP,
# script and kernel events appear on the open machine page with no reload; Debian's installer
# calls back and the page flips to local/installed by itself; the boot storm view shows it done
# and a machine that went silent after its script as stuck; a change with the token gone is
# refused and changes nothing; from the read network the console is read-only and a forged change
# is refused; every control is labelled, the first Tab reaches the skip link, a phone-sized
# window needs no sideways scrolling. Screenshots of each page go to VBOOT_ARTEFACTS
# (default .build/artefacts/console).
#
# Environment: VBOOT (default .build/debug/vboot), VBOOT_ARTEFACTS, E2E_KEEP=1 keeps the rig's
# directory. Needs root. The last line is "N passed, N failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
ARTEFACTS=${VBOOT_ARTEFACTS:-$ROOT/.build/artefacts/console}
DI_DIR=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
HTTP_PORT=8080 API_PORT=8081 READ_PORT=8082
MAC=52:54:00:c0:50:01 STUCK_MAC=52:54:00:c0:50:02

# shellcheck source=lib/report.sh
. "$HERE/lib/report.sh"
# shellcheck source=lib/processes.sh
. "$HERE/lib/processes.sh"

[ "$(id -u)" = 0 ] || early_fail "needs root (network namespaces, tap devices)"
for cmd in ip dnsmasq qemu-system-x86_64 curl /usr/bin/chromium /usr/bin/chromedriver; do
    command -v "$cmd" >/dev/null || early_fail "missing command: $cmd (scripts/test installs it)"
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || early_fail "missing python3-selenium (scripts/test installs it)"
for f in /usr/share/OVMF/OVMF_CODE_4M.fd "$DI_DIR/linux" "$DI_DIR/initrd.gz"; do
    [ -f "$f" ] || early_fail "missing file: $f"
done
[ -x "$VBOOT" ] || early_fail "no vboot binary at $VBOOT"

RIG=vbc$$
# shellcheck source=lib/rig.sh
. "$HERE/lib/rig.sh"
cleanup() {
    # The guest was started by the starter's subshell: its QEMU is not in RIG_PIDS here.
    if [ -f "$RIG_DIR/g0.pid" ]; then
        guest=$(cat "$RIG_DIR/g0.pid")
        rig_stop_guest g0
        for ((i = 0; i < 20; i++)); do alive "$guest" || break; sleep 0.5; done
        if alive "$guest"; then kill -KILL "$guest" 2>/dev/null || true; fi
    fi
    rig_down
    if [ "${E2E_KEEP:-0}" = 1 ] || [ "$FAILED" -gt 0 ]; then echo "rig directory kept: $RIG_DIR"; else rm -rf "$RIG_DIR"; fi
}
trap cleanup EXIT
rig_up
rig_site_dhcp

mkdir -p "$RIG_DIR/boot-scripts" "$RIG_DIR/assets/debian-12" "$RIG_DIR/data"
cp "$ROOT/boot-scripts/default.ipxe" "$RIG_DIR/boot-scripts/"
cp -r "$ROOT/boot-scripts/profiles" "$RIG_DIR/boot-scripts/"
cp "$DI_DIR/linux" "$DI_DIR/initrd.gz" "$RIG_DIR/assets/debian-12/"
# The installer reports back from its first moments (preseed early_command), as in e2e scenario j.
cat >"$RIG_DIR/assets/preseed.cfg" <<'EOF'
d-i preseed/early_command string url=$(sed -n 's/.*vboot_done=\([^ ]*\).*/\1/p' /proc/cmdline); wget -q -O /dev/null "$url"
EOF
chmod -R o+rX "$RIG_DIR"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$RIG_DIR/api-token"
chmod 600 "$RIG_DIR/api-token"
chown vboot "$RIG_DIR/api-token" "$RIG_DIR/data"

ip netns exec "$(rig_ns boot)" "$VBOOT" serve --listen "$BOOT_IP" --interface eth0 --dhcp proxy \
    --http-port "$HTTP_PORT" --boot-scripts "$RIG_DIR/boot-scripts" --assets "$RIG_DIR/assets" \
    --data-dir "$RIG_DIR/data" --api-token-file "$RIG_DIR/api-token" \
    --api-listen "127.0.0.1:$API_PORT" --api-listen "$BOOT_IP:$READ_PORT" --api-read-network "$BOOT_IP/32" \
    --log-level debug >"$RIG_DIR/vboot.stdout" 2>"$RIG_DIR/vboot.log" &
VBOOT_PID=$!
RIG_PIDS+=("$VBOOT_PID")
up=0
for ((i = 0; i < 60; i++)); do
    alive "$VBOOT_PID" || early_fail "vboot exited at start" "" "$RIG_DIR/vboot.log"
    if ip netns exec "$(rig_ns boot)" curl -s -m 2 -o /dev/null "http://127.0.0.1:$API_PORT/health"; then up=1; break; fi
    sleep 0.5
done
[ "$up" = 1 ] || early_fail "vboot's API did not answer within 30 s" "" "$RIG_DIR/vboot.log"

base="http://$BOOT_IP:$HTTP_PORT/assets"
mkdir -p "$ARTEFACTS"
rm -f "$ARTEFACTS"/*.png
# The browser asks for the guest once the machine is set to install (console.start-guest).
(
    for ((i = 0; i < 600; i++)); do
        [ -f "$RIG_DIR/console.start-guest" ] && break
        sleep 0.5
    done
    [ -f "$RIG_DIR/console.start-guest" ] && rig_guest g0 "$MAC" uefi default && echo "guest g0 powered on"
    wait
) &
STARTER=$!
RIG_PIDS+=("$STARTER")

input=$(
    cat <<EOF
{"url": "http://127.0.0.1:$API_PORT", "read_url": "http://$BOOT_IP:$READ_PORT", "token": "$(cat "$RIG_DIR/api-token")",
 "mac": "$MAC", "stuck_mac": "$STUCK_MAC", "boot_url": "http://$BOOT_IP:$HTTP_PORT", "rig_dir": "$RIG_DIR",
 "artefacts": "$ARTEFACTS",
 "variables": {"kernel_url": "$base/debian-12/linux", "initrd_url": "$base/debian-12/initrd.gz",
               "preseed_url": "$base/preseed.cfg", "console": "ttyS0,115200n8"}}
EOF
)
# Bounded: the flow waits at most ~10 minutes in all; this stops it after 15.
set +e
ip netns exec "$(rig_ns boot)" timeout 900 /usr/bin/python3 "$HERE/lib/console-browser.py" \
    <<<"$input" >"$RIG_DIR/browser.out" 2>"$RIG_DIR/browser.log"
status=$?
set -e
while IFS= read -r line; do
    case $line in
        "PASS "*) pass "${line#PASS }" ;;
        "FAIL "*) fail "${line#FAIL }" ;;
    esac
done <"$RIG_DIR/browser.out"
[ "$status" = 0 ] || [ "$FAILED" -gt 0 ] || fail "the browser run ended with status $status" "" "$RIG_DIR/browser.log"
[ "$PASSED" -gt 0 ] || fail "the browser run reported nothing" "" "$RIG_DIR/browser.log"
if [ "$FAILED" -gt 0 ]; then
    echo "  guest serial (last 15 lines):"
    rig_plain "$RIG_DIR/g0.serial" | tail -n 15 | sed 's/^/        /'
    echo "  vboot log (last 15 lines):"
    grep -v '\[ServiceLifecycle\]' "$RIG_DIR/vboot.log" | tail -n 15 | cut -c1-300 | sed 's/^/        /'
fi
# A live stream never ends by itself: stopping vboot must end it, not wait for the browser.
ip netns exec "$(rig_ns boot)" curl -s -N -m 60 -H "Authorization: Bearer $(cat "$RIG_DIR/api-token")" \
    "http://127.0.0.1:$API_PORT/api/v1/events" >"$RIG_DIR/stream.out" 2>&1 &
STREAM=$!
RIG_PIDS+=("$STREAM")
for ((i = 0; i < 20; i++)); do grep -q "retry:" "$RIG_DIR/stream.out" && break; sleep 0.25; done
stop_started=$(date +%s.%N)
kill -TERM "$VBOOT_PID"
for ((i = 0; i < 60; i++)); do alive "$VBOOT_PID" || break; sleep 0.25; done
took=$(awk -v a="$stop_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if alive "$VBOOT_PID"; then
    fail "SIGTERM with a live event stream open: vboot still running after 15 s"
elif grep -q "retry:" "$RIG_DIR/stream.out"; then
    pass "SIGTERM with a live event stream open: vboot ends the stream and exits in $took s"
else
    fail "a live event stream was open when vboot was stopped" "$(head -c 200 "$RIG_DIR/stream.out")"
fi
shots=$(find "$ARTEFACTS" -name '*.png' | wc -l)
echo "  screenshots: $shots in $ARTEFACTS"
finish
