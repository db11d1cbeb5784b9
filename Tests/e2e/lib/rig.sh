# shellcheck shell=bash
# The e2e rig: three "hosts" joined by one Ethernet segment, all inside network namespaces this
# script creates (nothing touches the host's own interfaces).
#
#   ${RIG}-lan   bridge br0 + the guests' tap devices (QEMU runs here)
#   ${RIG}-site  the site's DHCP server: dnsmasq handing out addresses only, knows nothing of PXE
#   ${RIG}-boot  vboot, proxy mode
#
# Addresses live only inside these namespaces.

RIG=${RIG:-vbt$$}
RIG_NET=${RIG_NET:-10.77.0}
RIG_NET6=${RIG_NET6:-fd77:0:0:0} # ULA /64 the site announces (RIG_IPV6_RA=0 turns that off)
SITE_IP=${RIG_NET}.1
BOOT_IP=${RIG_NET}.2
# shellcheck source=privileges.sh
. "$(dirname "${BASH_SOURCE[0]}")/privileges.sh"
RIG_DIR=${RIG_DIR:-$(mktemp -d /tmp/vboot-rig.XXXXXX)}
chmod 755 "$RIG_DIR" # vboot, started as root, serves it as the vboot user
RIG_PIDS=()
RIG_HOSTS=()

rig_ns() { echo "${RIG}-$1"; }

rig_up() {
    local lan site boot
    lan=$(rig_ns lan); site=$(rig_ns site); boot=$(rig_ns boot)
    ip netns add "$lan"; ip netns add "$site"; ip netns add "$boot"
    ip -n "$lan" link add br0 type bridge
    ip -n "$lan" link set br0 type bridge forward_delay 0 stp_state 0
    ip -n "$lan" link set br0 up
    ip -n "$lan" link set lo up
    local host
    for host in site boot; do
        ip -n "$lan" link add "to-$host" type veth peer name eth0 netns "$(rig_ns "$host")"
        ip -n "$lan" link set "to-$host" master br0 up
        ip -n "$(rig_ns "$host")" link set lo up
        ip -n "$(rig_ns "$host")" link set eth0 up
    done
    ip -n "$site" addr add "$SITE_IP/24" dev eth0
    [ "${RIG_IPV6_RA:-1}" = 1 ] && ip -n "$site" addr add "${RIG_NET6}::1/64" dev eth0 nodad
    ip -n "$boot" addr add "$BOOT_IP/24" dev eth0
    # dnsmasq drops to nobody; its files must be readable there.
    chmod o+rx "$RIG_DIR"
}

# The site's DHCP server: addresses only, no PXE, no TFTP (RIG_SITE_ARGS, an array: more
# dnsmasq arguments, for a scenario whose site server also offers a boot file). It names itself as DNS server (it
# runs none): Debian's installer stops to ask for one when DHCP gives none.
# It also sends IPv6 router advertisements (SLAAC only, no DHCPv6): iPXE configures IPv4 and IPv6
# together and, on a segment without a router, waits ~15 s for an RA before it goes on to boot.
rig_site_dhcp() {
    local ra=()
    [ "${RIG_IPV6_RA:-1}" = 1 ] && ra=(--enable-ra "--dhcp-range=::,constructor:eth0,ra-only,64,1h")
    ip netns exec "$(rig_ns site)" dnsmasq --no-daemon --port=0 --interface=eth0 --bind-interfaces \
        --dhcp-range="${RIG_NET}.100,${RIG_NET}.150,255.255.255.0,1h" "${ra[@]}" \
        --dhcp-option=option:dns-server,"$SITE_IP" \
        --dhcp-leasefile="$RIG_DIR/dnsmasq.leases" --log-dhcp --no-ping ${RIG_SITE_ARGS[@]+"${RIG_SITE_ARGS[@]}"} \
        >"$RIG_DIR/dnsmasq.log" 2>&1 &
    RIG_PIDS+=($!)
}

# rig_host NAME ADDRESS -> one more host on the segment (namespace ${RIG}-NAME, eth0 on br0),
# for a second server beside vboot and the site's.
rig_host() {
    local name=$1 address=$2 lan; lan=$(rig_ns lan)
    ip netns add "$(rig_ns "$name")"
    RIG_HOSTS+=("$name")
    ip -n "$lan" link add "to-$name" type veth peer name eth0 netns "$(rig_ns "$name")"
    ip -n "$lan" link set "to-$name" master br0 up
    ip -n "$(rig_ns "$name")" link set lo up
    ip -n "$(rig_ns "$name")" link set eth0 up
    ip -n "$(rig_ns "$name")" addr add "$address/24" dev eth0
}

# rig_guest NAME MAC FIRMWARE(uefi|uefi-sb|bios|aavmf) ROM(default|none|FILE) -> starts QEMU, serial to $RIG_DIR/NAME.serial
# uefi-sb is OVMF with Secure Boot enforcing and Microsoft's keys enrolled (Debian's .ms images;
# they need SMM and a secure flash).
# aavmf is an arm64 guest: qemu-system-aarch64 -M virt with Debian's AAVMF (EDK II for arm64).
# RIG_BOOTINDEX=none leaves bootindex off the NIC (the VARS file alone decides what boots);
# RIG_VARS=FILE starts OVMF with a copy of that variable store instead of Debian's template.
# RIG_MEMORY=MiB: the guest's RAM (default 1024). RIG_SERIAL_SOCKET=1: see below.
rig_guest() {
    local name=$1 mac=$2 firmware=$3 rom=$4
    local tap="tap-$name" lan; lan=$(rig_ns lan)
    ip -n "$lan" tuntap add dev "$tap" mode tap
    ip -n "$lan" link set "$tap" master br0 up
    local nic="virtio-net-pci,netdev=n0,mac=$mac"
    [ "${RIG_BOOTINDEX:-1}" = none ] || nic+=",bootindex=${RIG_BOOTINDEX:-1}"
    case $rom in
        default) ;;
        none) nic+=",romfile=" ;;
        *) nic+=",romfile=$rom" ;;
    esac
    local fw=() qemu=(qemu-system-x86_64 -machine q35,accel=tcg -vga std)
    case $firmware in
        uefi)
            cp "${RIG_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}" "$RIG_DIR/$name.vars"
            fw=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
                -drive "if=pflash,format=raw,unit=1,file=$RIG_DIR/$name.vars")
            ;;
        uefi-sb)
            qemu=(qemu-system-x86_64 -machine q35,accel=tcg,smm=on -global driver=cfi.pflash01,property=secure,value=on -vga std)
            cp "${RIG_VARS:-/usr/share/OVMF/OVMF_VARS_4M.ms.fd}" "$RIG_DIR/$name.vars"
            fw=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd"
                -drive "if=pflash,format=raw,unit=1,file=$RIG_DIR/$name.vars")
            ;;
        aavmf)
            # The virt board has no VGA: AAVMF and the guest's console are on the PL011 serial port.
            qemu=(qemu-system-aarch64 -machine virt,accel=tcg -cpu cortex-a57)
            cp /usr/share/AAVMF/AAVMF_VARS.fd "$RIG_DIR/$name.vars"
            fw=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd"
                -drive "if=pflash,format=raw,unit=1,file=$RIG_DIR/$name.vars")
            ;;
        *)
            # SeaBIOS and iPXE print to VGA; sgabios mirrors it onto the serial port. RIG_SGA=0
            # leaves it out for ROMs that write to the serial port themselves (vboot's BIOS
            # build does: CONSOLE_SERIAL), which would otherwise show every character twice.
            [ "${RIG_SGA:-1}" = 0 ] || fw=(-device sga)
            ;;
    esac
    # RIG_SERIAL_SOCKET=1: the serial port is also a socket ($RIG_DIR/NAME.sock) to type into
    # (lib/serial-shell.py); the file still gets everything the guest writes.
    local serial=(-serial "file:$RIG_DIR/$name.serial")
    [ "${RIG_SERIAL_SOCKET:-0}" = 0 ] ||
        serial=(-chardev "socket,id=serial0,path=$RIG_DIR/$name.sock,server=on,wait=off,logfile=$RIG_DIR/$name.serial"
            -serial chardev:serial0)
    ip netns exec "$lan" "${qemu[@]}" -m "${RIG_MEMORY:-1024}" -smp 1 \
        "${fw[@]}" -display none -monitor "unix:$RIG_DIR/$name.mon,server=on,wait=off" \
        "${serial[@]}" \
        -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" -device "$nic" \
        >"$RIG_DIR/$name.qemu.log" 2>&1 &
    RIG_PIDS+=($!)
    echo $! >"$RIG_DIR/$name.pid"
}

# rig_monitor NAME COMMAND...: the guest's QEMU monitor answers, for a report when a guest
# does not do what a test waits for (is it running, where is its CPU).
rig_monitor() {
    python3 - "$RIG_DIR/$1.mon" "${@:2}" <<'PY'
import socket, sys, time
monitor = socket.socket(socket.AF_UNIX)
monitor.settimeout(3)
monitor.connect(sys.argv[1])
for command in sys.argv[2:]:
    monitor.send((command + "\n").encode())
    time.sleep(1)
    try:
        text = monitor.recv(1 << 20).decode(errors="replace")
    except OSError:
        continue
    # The monitor echoes with line-editing escapes: keep its answers' plain lines.
    print("\n".join(line for line in text.splitlines() if "\x1b" not in line and line.strip() != "(qemu)"))
PY
}

# rig_in_firmware NAME: true when the guest's CPU runs firmware code, not Linux (Linux always
# sets CR4.PGE, bit 7; OVMF's DXE phase pages without it).
rig_in_firmware() {
    local cr4
    cr4=$(rig_monitor "$1" "info registers" 2>/dev/null | grep -aoE 'CR4=[0-9a-fA-F]+' | head -n 1 | cut -d= -f2)
    [ -n "$cr4" ] && (((0x$cr4 & 0x80) == 0))
}

# rig_power_cycle NAME MAC FIRMWARE ROM: the guest's QEMU stopped and started again (a cold
# start with the same MAC and the same variable store), as an admin holding the power button
# would. Its serial log starts afresh.
rig_power_cycle() {
    local name=$1 pid i
    pid=$(cat "$RIG_DIR/$name.pid")
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do rig_alive "$pid" || break; sleep 0.5; done
    rig_alive "$pid" && { kill -KILL "$pid" 2>/dev/null || true; sleep 1; }
    wait "$pid" 2>/dev/null || true
    # Gone from the list rig_down kills: the number may be another process's by then.
    for i in "${!RIG_PIDS[@]}"; do [ "${RIG_PIDS[$i]}" != "$pid" ] || unset 'RIG_PIDS[i]'; done
    RIG_PIDS=("${RIG_PIDS[@]}")
    ip -n "$(rig_ns lan)" link del "tap-$name" 2>/dev/null || true
    cp "$RIG_DIR/$name.vars" "$RIG_DIR/$name.vars.kept"
    RIG_VARS="$RIG_DIR/$name.vars.kept" rig_guest "$@"
}

rig_stop_guest() {
    local name=$1
    if [ -f "$RIG_DIR/$name.pid" ]; then kill "$(cat "$RIG_DIR/$name.pid")" 2>/dev/null || true; fi
    ip -n "$(rig_ns lan)" link del "tap-$name" 2>/dev/null || true
}

# rig_plain FILE -> the file's text without CRs and ANSI escape sequences (sgabios positions the
# cursor before nearly every character it mirrors from VGA onto the serial port).
rig_plain() {
    [ -f "$1" ] || return 0
    tr -d '\r' <"$1" | sed -E 's/\x1b\[[0-9;?=]*[A-Za-z]//g; s/\x1b[()][A-Za-z0-9]//g; s/\x1b[=>78cDEHM]//g'
}

# wait_for FILE PATTERN SECONDS (extended regex, matched on rig_plain's output)
wait_for() {
    local file=$1 pattern=$2 secs=$3 i
    for ((i = 0; i < secs * 2; i++)); do
        # No grep -q: it stops reading at the first match, and under pipefail the writer's SIGPIPE
        # would make a found pattern look missing.
        if [ -f "$file" ] && rig_plain "$file" | grep -E -- "$pattern" >/dev/null; then return 0; fi
        sleep 0.5
    done
    return 1
}

# rig_alive PID -> true while the process exists and is not a zombie
rig_alive() {
    [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Safe under `set -e` (it runs from EXIT traps): nothing in here may end the calling shell early.
rig_down() {
    local pid i alive ns
    for pid in "${RIG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    # Bounded: give everything 10 s to exit on SIGTERM, then SIGKILL what is left.
    for ((i = 0; i < 20; i++)); do
        alive=0
        for pid in "${RIG_PIDS[@]}"; do rig_alive "$pid" && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.5
    done
    for pid in "${RIG_PIDS[@]}"; do rig_alive "$pid" && { kill -KILL "$pid" 2>/dev/null || true; }; done
    for pid in "${RIG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    RIG_PIDS=()
    for ns in lan site boot "${RIG_HOSTS[@]}"; do ip netns del "$(rig_ns "$ns")" 2>/dev/null || true; done
    true
}
