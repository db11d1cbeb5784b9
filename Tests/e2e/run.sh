#!/usr/bin/env bash
# vboot end-to-end suite: real firmware (OVMF, SeaBIOS, iPXE) in QEMU boots through vboot.
#
#   Tests/e2e/run.sh            all scenarios
#   Tests/e2e/run.sh a d        only scenarios a and d
#
# Every scenario gets its own rig (lib/rig.sh): namespaces <run-id><scenario>-{lan,site,boot},
# a site dnsmasq handing out addresses only, and vboot in proxy mode at ${RIG_NET}.2. Nothing
# touches the host's interfaces. Needs root (network namespaces, tap devices).
#
# Environment:
#   VBOOT=PATH       vboot binary (default .build/debug/vboot, relative to the repo root)
#   E2E_JOBS=N       scenarios running at once (default 2; QEMU runs under TCG, one core each)
#   E2E_KEEP=1       keep the run directory (logs, serial output) even when everything passed
#   E2E_LOG_LEVEL=L  vboot --log-level (default debug)
#   E2E_LIMIT=S      seconds each scenario may take from QEMU start (default: per scenario, 180-600)
#   E2E_PCAP=1       capture the bridge (every host's packets) into <run dir>/<scenario>/boot.pcap (tcpdump;
#                    implies E2E_KEEP=1)
#   VBOOT_IPXE_OUT=DIR    vboot's own iPXE, already built by `vboot rom build --server http://10.77.0.2:8080`
#                         with the targets in IPXE_TARGETS below (scripts/test builds it once per run)
#   VBOOT_IPXE_SOURCE=P   otherwise build it here from this iPXE tree or source tarball (default: the
#                         tarball in ../shared/third_party named by ipxe/ipxe.lock's tag, else a clone
#                         of the lock's URL); VBOOT_IPXE_CACHE=DIR keeps the build tree between runs
#
# The last line is always "N passed, N failed"; the exit status is non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
JOBS=${E2E_JOBS:-2}
LOG_LEVEL=${E2E_LOG_LEVEL:-debug}
DI_DIR=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
DI_ARM64_DIR=/usr/lib/debian-installer/images/12/arm64/text/debian-installer/arm64
HTTP_PORT=8080
# What scenarios i and l-q boot of vboot's own iPXE build (r: ipxe.efi built again without a
# script, into no-embed/).
IPXE_TARGETS=(ipxe.efi snponly.efi ipxe-arm64.efi virtio-net)

# ---------------------------------------------------------------------------------------------
# Scenarios: firmware, option ROM, MAC, seconds allowed from QEMU start, what must appear.
ALL=(a b c d e f g h i j k l m n o p q r s t u)
declare -A DESC FW ROM MAC LIMIT EXTRA IPXE
DESC[a]="OVMF, no option ROM: UEFI PXE -> proxyDHCP -> TFTP ipxe.efi -> iPXE -> per-MAC script"
FW[a]=uefi ROM[a]=none MAC[a]=52:54:00:e2:e0:0a LIMIT[a]=240
DESC[b]="OVMF + QEMU's iPXE option ROM -> HTTP per-MAC script"
FW[b]=uefi ROM[b]=default MAC[b]=52:54:00:e2:e0:0b LIMIT[b]=180
DESC[c]="OVMF + iPXE ROM -> per-MAC script -> Debian 12 installer kernel+initrd from /assets"
FW[c]=uefi ROM[c]=default MAC[c]=52:54:00:e2:e0:0c LIMIT[c]=360
DESC[d]="OVMF + iPXE ROM, unknown MAC -> default script"
FW[d]=uefi ROM[d]=default MAC[d]=52:54:00:e2:e0:0d LIMIT[d]=180
DESC[e]="SeaBIOS + QEMU's iPXE option ROM -> HTTP per-MAC script"
FW[e]=bios ROM[e]=default MAC[e]=52:54:00:e2:e0:0e LIMIT[e]=240
DESC[f]="OVMF, no option ROM, boot-server strategy: offer lists vboot, OVMF asks port 4011, ACK names ipxe.efi"
FW[f]=uefi ROM[f]=none MAC[f]=52:54:00:e2:e0:0f LIMIT[f]=240 EXTRA[f]="--pxe-strategy uefi=boot-server"
DESC[g]="OVMF, no ROM, no bootindex: VARS from 'vboot rom inject --ovmf-vars' -> UEFI HTTP boot of ipxe.efi -> script"
FW[g]=uefi ROM[g]=none MAC[g]=52:54:00:e2:e0:10 LIMIT[g]=240
DESC[h]="QEMU started with 'vboot rom inject --qemu' (e1000 + Debian's EFI e1000 ROM, per-VM VARS) -> script"
FW[h]=uefi ROM[h]=/usr/lib/ipxe/qemu/efi-e1000.rom MAC[h]=52:54:00:e2:e0:11 LIMIT[h]=240
DESC[i]="vboot's own virtio-net ROM (rom build), started with 'vboot rom inject --qemu', vboot --dhcp off: embedded script -> HTTP script, no proxy, no TFTP"
FW[i]=uefi ROM[i]=built:virtio-net.combined.rom MAC[i]=52:54:00:e2:e0:12 LIMIT[i]=240 EXTRA[i]="--dhcp off"
DESC[j]="one-shot install: a 'once' machine boots the debian profile, the installer calls back (preseed early_command), the next boot of the same VM is the local profile"
FW[j]=uefi ROM[j]=default MAC[j]=52:54:00:e2:e0:13 LIMIT[j]=300
DESC[k]="vboot --dhcp full, no site DHCP server: OVMF, no ROM gets its address and PXE boot from vboot alone -> TFTP ipxe.efi -> iPXE -> per-MAC script"
FW[k]=uefi ROM[k]=none MAC[k]=52:54:00:e2:e0:14 LIMIT[k]=240
EXTRA[k]="--dhcp full --dhcp-range ${RIG_NET:-10.77.0}.160-${RIG_NET:-10.77.0}.170 --dhcp-router ${RIG_NET:-10.77.0}.1"

DESC[l]="OVMF, no ROM: UEFI PXE -> proxyDHCP -> TFTP vboot's own ipxe.efi -> its embedded script -> per-MAC script"
FW[l]=uefi ROM[l]=none MAC[l]=52:54:00:e2:e0:15 LIMIT[l]=240 IPXE[l]=ipxe.efi
DESC[m]="OVMF, no ROM: TFTP vboot's own ipxe.efi -> Debian 12 installer kernel+initrd, no initrd= on the command line"
FW[m]=uefi ROM[m]=none MAC[m]=52:54:00:e2:e0:16 LIMIT[m]=360 IPXE[m]=ipxe.efi
DESC[n]="OVMF, no ROM, an iPXE directory with only snponly.efi: UEFI PXE gets vboot's snponly.efi -> per-MAC script"
FW[n]=uefi ROM[n]=none MAC[n]=52:54:00:e2:e0:17 LIMIT[n]=240 IPXE[n]=snponly.efi
DESC[o]="SeaBIOS + vboot's own legacy virtio-net ROM, vboot --dhcp off: embedded script -> HTTP script"
FW[o]=bios ROM[o]=built:virtio-net.rom MAC[o]=52:54:00:e2:e0:18 LIMIT[o]=240 EXTRA[o]="--dhcp off"
DESC[p]="arm64: AAVMF on qemu-system-aarch64 -M virt, no ROM: UEFI PXE (arch 11) -> proxyDHCP -> TFTP ipxe-arm64.efi -> per-MAC script"
FW[p]=aavmf ROM[p]=none MAC[p]=52:54:00:e2:e0:19 LIMIT[p]=420 IPXE[p]=ipxe-arm64.efi
DESC[q]="arm64: AAVMF, no ROM -> vboot's ipxe-arm64.efi -> Debian 12 arm64 installer kernel+initrd"
FW[q]=aavmf ROM[q]=none MAC[q]=52:54:00:e2:e0:1a LIMIT[q]=600 IPXE[q]=ipxe-arm64.efi
DESC[r]="OVMF, no ROM: TFTP vboot's ipxe.efi built without a script (rom build --no-embed, as iPXE's signed ipxe.efi) -> autoexec.ipxe from vboot over TFTP -> per-MAC script"
FW[r]=uefi ROM[r]=none MAC[r]=52:54:00:e2:e0:1b LIMIT[r]=240 IPXE[r]=no-embed/ipxe.efi

DESC[s]="Secure Boot: OVMF enforcing with Microsoft's keys, no ROM, vboot --dhcp full: native PXE -> Debian's signed shim -> GRUB -> per-MAC GRUB configuration from the declarative debian-netboot profile -> signed installer kernel"
FW[s]=uefi-sb ROM[s]=none MAC[s]=52:54:00:e2:e0:1c LIMIT[s]=360
EXTRA[s]="--dhcp full --dhcp-range ${RIG_NET:-10.77.0}.160-${RIG_NET:-10.77.0}.170 --dhcp-router ${RIG_NET:-10.77.0}.1 --ipxe-dir $DI_DIR"
DESC[t]="Secure Boot refuses vboot's unsigned iPXE: OVMF enforcing, loader ipxe, vboot --dhcp full: the firmware fetches ipxe.efi and refuses to start it; vboot's timeline and log then say the loader went out and nothing asked for a script (Secure Boot refuses an unsigned iPXE)"
FW[t]=uefi-sb ROM[t]=none MAC[t]=52:54:00:e2:e0:1d LIMIT[t]=240
# t's machine is in the inventory (unknown machines' events are rate-limited, not dropped, but a
# known one is what an admin looks up).
EXTRA[t]="--dhcp full --dhcp-range ${RIG_NET:-10.77.0}.160-${RIG_NET:-10.77.0}.170 --dhcp-router ${RIG_NET:-10.77.0}.1"
DESC[u]="Secure Boot one-shot install: OVMF enforcing, vboot --dhcp full, a once machine with loader grub and debian-netboot: shim -> GRUB -> installer, which calls back (preseed early_command); the next boot of the same VM is local under GRUB (exit to the firmware)"
FW[u]=uefi-sb ROM[u]=none MAC[u]=52:54:00:e2:e0:1e LIMIT[u]=300
EXTRA[u]="--dhcp full --dhcp-range ${RIG_NET:-10.77.0}.160-${RIG_NET:-10.77.0}.170 --dhcp-router ${RIG_NET:-10.77.0}.1 --dhcp-dns ${RIG_NET:-10.77.0}.1 --ipxe-dir $DI_DIR"

hyphen_mac() { echo "${1//:/-}"; }
marker() { echo "vboot-e2e per-mac script $1"; }

# What each scenario waits for in the guest's serial output (extended regex).
expect_pattern() {
    local s=$1 mac=${MAC[$1]}
    case $s in
        c | m | q | s) echo "Select a language" ;;
        t) echo "Access Denied" ;;
        u) echo "EFI stub: UEFI Secure Boot is enabled" ;;
        j) echo "vboot: starting the installer" ;;
        d) echo "no boot script for this machine yet" ;;
        # ${net0/mac} is expanded by iPXE, {{mac}} by vboot's template rendering.
        *) echo "$(marker "$s") $mac $(hyphen_mac "$mac")" ;;
    esac
}

# The per-MAC scripts vboot serves (none for d: that MAC must get default.ipxe).
write_machine_script() {
    local s=$1 dir=$2 file
    file="$dir/$(hyphen_mac "${MAC[$s]}").ipxe"
    case $s in
        a | b | e | f | g | h | i | k | l | n | o | p | r)
            cat >"$file" <<EOF
#!ipxe
echo $(marker "$s") \${net0/mac} {{mac}}
echo vboot-e2e server {{server}} assets {{assets}}
shell
EOF
            ;;
        c)
            cat >"$file" <<EOF
#!ipxe
echo $(marker "$s") \${net0/mac} {{mac}}
# Debian's 2019 iPXE booting an EFI kernel needs initrd=<name> on the command line.
kernel {{assets}}/debian-12/linux initrd=initrd.gz console=ttyS0,115200n8 ---
initrd {{assets}}/debian-12/initrd.gz
boot || shell
EOF
            ;;
        m | q)
            # iPXE 2.0 hands the initrd to an EFI kernel itself (LoadFile2): no initrd= needed.
            local dir=debian-12 console=ttyS0,115200n8
            [ "$s" = q ] && dir=debian-12-arm64 console=ttyAMA0,115200n8
            cat >"$file" <<EOF
#!ipxe
echo $(marker "$s") \${net0/mac} {{mac}}
kernel {{assets}}/$dir/linux console=$console ---
initrd {{assets}}/$dir/initrd.gz
boot || shell
EOF
            ;;
        d | j | s | t | u) ;;
    esac
}

# assert_tftp_sent FILE: vboot's log shows a finished TFTP transfer of FILE (not a refusal or
# EDK2's size probe)
assert_tftp_sent() {
    local line
    line=$(grep -iE 'tftp' "$RIG_DIR/vboot.log" | grep -F "$1" |
        grep -viE 'not found|error|denied|refused|abort|fail|probe' | tail -n 1 || true)
    [ -n "$line" ] || fail "vboot's log shows no tftp transfer of $1"
    echo "[$s] vboot log: ${line:0:200}"
}

# assert_embedded_script: the guest ran vboot's embedded script (ipxe/embed.ipxe): built into
# vboot's iPXE, or (r) sent as autoexec.ipxe to an iPXE without one
assert_embedded_script() {
    rig_plain "$RIG_DIR/$s.serial" | grep -F "vboot: fetching this machine's script from http://$BOOT_IP:$HTTP_PORT" \
        >/dev/null || fail "the serial output lacks the embedded script's 'vboot: fetching this machine's script' line"
    echo "[$s] the embedded script of vboot's build ran"
}

# j: the inventory, from a config file: one machine, installing once with the shipped debian
# profile; its preseed reports back from the installer (early_command) with the URL the
# profile put on the kernel command line.
write_oneshot_config() {
    local s=$1 base="http://$BOOT_IP:$HTTP_PORT/assets"
    cat >"$RIG_DIR/assets/preseed.cfg" <<'EOF'
d-i preseed/early_command string url=$(sed -n 's/.*vboot_done=\([^ ]*\).*/\1/p' /proc/cmdline); wget -q -O /dev/null "$url"
EOF
    cat >"$RIG_DIR/vboot.yaml" <<EOF
machines:
  - mac: "${MAC[$s]}"
    hostname: oneshot
    profile: debian
    next_boot: once
    variables:
      kernel_url: $base/debian-12/linux
      initrd_url: $base/debian-12/initrd.gz
      preseed_url: $base/preseed.cfg
      console: ttyS0,115200n8
EOF
}

# s, u: one machine marked for the shim -> GRUB chain, booting the shipped declarative profile;
# u installs once, its preseed reporting back as j's does; t: the same machine left on iPXE.
write_secure_boot_config() {
    local s=$1 once=
    if [ "$s" = u ]; then
        write_oneshot_config "$s"
        once="
    next_boot: once"
    fi
    local loader=grub
    [ "$s" != t ] || loader=ipxe
    cat >"$RIG_DIR/vboot.yaml" <<EOF
machines:
  - mac: "${MAC[$s]}"
    hostname: secureboot
    profile: debian-netboot
    loader: $loader$once
    variables:
      console: ttyS0,115200n8
EOF
    [ "$s" != u ] || echo "      preseed_url: http://$BOOT_IP:$HTTP_PORT/assets/preseed.cfg" >>"$RIG_DIR/vboot.yaml"
}

# assert_oneshot_then_local FIRST_BOOT_ONLY TIMELINE_LOCAL (j, u): the installer (its preseed's
# early_command) reports back, once -> local; the same VM boots again and gets the local boot,
# which hands the boot back to the firmware; the timeline has the install, the callback and the
# local boot (TIMELINE_LOCAL).
assert_oneshot_then_local() {
    local first_only=$1 local_event=$2 state= i
    for ((i = 0; i < 240; i++)); do
        state=$(rig_api "/machines/$mac" | sed -n 's/.*"next_boot":"\([a-z]*\)".*/\1/p')
        [ "$state" = local ] && break
        sleep 0.5
    done
    [ "$state" = local ] || fail "no installer callback: next_boot is still '$state' 120 s after the installer started"
    echo "[$s] installer called back after $(($(date +%s) - start)) s: next_boot local"
    rig_stop_guest "$s"
    mv "$RIG_DIR/$s.serial" "$RIG_DIR/$s.install.serial"
    sleep 1
    rig_guest "$s" "$mac" "${FW[$s]}" "${ROM[$s]}"
    wait_for "$RIG_DIR/$s.serial" "returning to the firmware" 180 ||
        fail "second boot: no local boot ('returning to the firmware') within 180 s"
    if grep -qF -- "$first_only" <(rig_plain "$RIG_DIR/$s.serial"); then
        fail "second boot started the installer again"
    fi
    local timeline want
    timeline=$(rig_api "/machines/$mac/timeline?limit=50")
    for want in '"kind":"callback","mac"' 'install handed out' "$local_event"; do
        grep -qF -- "$want" <<<"$timeline" || fail "timeline lacks $want: ${timeline:0:600}"
    done
    echo "[$s] second boot: local; timeline has the install, the callback and the local boot"
}

# rig_api PATH -> the API's JSON, with the token vboot generated in the rig's data directory; the
# API listens on the boot namespace's loopback (vboot serve's default --api-listen), not on $HTTP_PORT
rig_api() {
    ip netns exec "$(rig_ns boot)" curl -s -m 5 -H "Authorization: Bearer $(cat "$RIG_DIR/data/api-token")" \
        "http://127.0.0.1:8081/api/v1$1"
}

usage() {
    echo "usage: $0 [scenario...]   (scenarios: ${ALL[*]}; default: all)"
    local s
    for s in "${ALL[@]}"; do echo "  $s  ${DESC[$s]}"; done
}

# ---------------------------------------------------------------------------------------------
# Arguments
SELECTED=()
for arg in "$@"; do
    case $arg in
        -h | --help) usage; exit 0 ;;
        *)
            if [ -z "${DESC[$arg]+x}" ]; then
                echo "unknown scenario: $arg" >&2; usage >&2; exit 2
            fi
            SELECTED+=("$arg")
            ;;
    esac
done
[ ${#SELECTED[@]} -gt 0 ] || SELECTED=("${ALL[@]}")
summary_all_failed() {
    echo "$1" >&2
    echo "0 passed, ${#SELECTED[@]} failed"
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Preflight
[ "$(id -u)" = 0 ] || summary_all_failed "e2e: must run as root (network namespaces, tap devices)"
for cmd in ip dnsmasq qemu-system-x86_64 curl sed tr grep; do
    command -v "$cmd" >/dev/null || summary_all_failed "e2e: missing command: $cmd"
done
for f in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd /usr/lib/ipxe/ipxe.efi \
    "$DI_DIR/linux" "$DI_DIR/initrd.gz" "$ROOT/boot-scripts/default.ipxe"; do
    [ -f "$f" ] || summary_all_failed "e2e: missing file: $f"
done
NEED_BUILT=0 NEED_ARM64=0 NEED_NO_EMBED=0
for s in "${SELECTED[@]}"; do
    if [[ -n ${IPXE[$s]:-} || ${ROM[$s]} == built:* ]]; then NEED_BUILT=1; fi
    if [[ ${IPXE[$s]:-} == no-embed/* ]]; then NEED_NO_EMBED=1; fi
    if [ "${FW[$s]}" = aavmf ]; then NEED_ARM64=1; fi
done
if [ "$NEED_ARM64" = 1 ]; then
    command -v qemu-system-aarch64 >/dev/null || summary_all_failed "e2e: missing command: qemu-system-aarch64 (apt install qemu-system-arm)"
    for f in /usr/share/AAVMF/AAVMF_CODE.fd /usr/share/AAVMF/AAVMF_VARS.fd "$DI_ARM64_DIR/linux" "$DI_ARM64_DIR/initrd.gz"; do
        [ -f "$f" ] || summary_all_failed "e2e: missing file: $f (apt install qemu-efi-aarch64 debian-installer-12-netboot-arm64)"
    done
fi
for s in "${SELECTED[@]}"; do
    [ "${FW[$s]}" = uefi-sb ] || continue
    for f in /usr/share/OVMF/OVMF_CODE_4M.ms.fd /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$DI_DIR/bootnetx64.efi" "$DI_DIR/grubx64.efi"; do
        [ -f "$f" ] || summary_all_failed "e2e: missing file: $f (apt install ovmf debian-installer-12-netboot-amd64)"
    done
done
[ -x "$VBOOT" ] || summary_all_failed "e2e: vboot binary not found at $VBOOT (build it: swift build --product vboot)"

# Unique per run: namespace names are <RUN_ID><scenario>-lan etc.
RUN_ID=e2e$(printf '%x%02x' $$ $((RANDOM % 256)))
RUN_DIR=$(mktemp -d /tmp/vboot-e2e.XXXXXX)
chmod 755 "$RUN_DIR" # dnsmasq (user nobody) writes its lease file below it

# Shared, read-only copy of the installer; each rig's assets tree hard-links it.
mkdir -p "$RUN_DIR/assets/debian-12"
cp "$DI_DIR/linux" "$DI_DIR/initrd.gz" "$RUN_DIR/assets/debian-12/"

# Arm64 installer, only when a scenario boots it.
for s in "${SELECTED[@]}"; do
    [ "$s" = q ] || continue
    mkdir -p "$RUN_DIR/assets/debian-12-arm64"
    cp "$DI_ARM64_DIR/linux" "$DI_ARM64_DIR/initrd.gz" "$RUN_DIR/assets/debian-12-arm64/"
done

# vboot's own iPXE (scenarios i, l-q): built once for the rig's server address, which every rig
# shares (each lives in namespaces of its own).
IPXE_OUT=${VBOOT_IPXE_OUT:-}
lock_tag=$(sed -n 's/^tag=//p' "$ROOT/ipxe/ipxe.lock")
source=${VBOOT_IPXE_SOURCE:-}
tarball=$ROOT/../shared/third_party/ipxe-$lock_tag.tar.xz
[ -n "$source" ] || [ ! -f "$tarball" ] || source=$tarball
if [ "$NEED_BUILT" = 1 ] && [ -z "$IPXE_OUT" ]; then
    IPXE_OUT=$RUN_DIR/ipxe
    from=${source:-"a clone of the URL in ipxe/ipxe.lock"}
    echo "vboot e2e: building vboot's iPXE (${IPXE_TARGETS[*]}) from $from; log $RUN_DIR/rom-build.log"
    build=(rom build --server "http://${RIG_NET:-10.77.0}.2:$HTTP_PORT" --recipe "$ROOT/ipxe"
        --embed "$ROOT/ipxe/embed.ipxe" --out "$IPXE_OUT" --cache "${VBOOT_IPXE_CACHE:-$RUN_DIR/ipxe-cache}")
    [ -z "$source" ] || build+=(--source "$source")
    for t in "${IPXE_TARGETS[@]}"; do build+=(--target "$t"); done
    "$VBOOT" "${build[@]}" >"$RUN_DIR/rom-build.log" 2>&1 ||
        summary_all_failed "e2e: vboot rom build failed: $(tail -n 20 "$RUN_DIR/rom-build.log")"
fi
# r: the same tree without the script (only the embedded image is rebuilt).
if [ "$NEED_NO_EMBED" = 1 ] && [ ! -f "$IPXE_OUT/no-embed/ipxe.efi" ]; then
    plain=(rom build --no-embed --recipe "$ROOT/ipxe" --out "$IPXE_OUT/no-embed"
        --cache "${VBOOT_IPXE_CACHE:-$RUN_DIR/ipxe-cache}" --target ipxe.efi)
    [ -z "$source" ] || plain+=(--source "$source")
    "$VBOOT" "${plain[@]}" >>"$RUN_DIR/rom-build.log" 2>&1 ||
        summary_all_failed "e2e: vboot rom build --no-embed failed: $(tail -n 20 "$RUN_DIR/rom-build.log")"
    tail -n 1 "$RUN_DIR/rom-build.log" | sed 's/^/vboot e2e: /'
fi
if [ "$NEED_BUILT" = 1 ]; then
    for t in ipxe.efi snponly.efi ipxe-arm64.efi virtio-net.rom virtio-net.combined.rom; do
        [ -f "$IPXE_OUT/$t" ] || summary_all_failed "e2e: vboot's iPXE build lacks $IPXE_OUT/$t"
    done
fi
if [ "$NEED_NO_EMBED" = 1 ]; then
    # What r is about: a binary with no script of its own (the text of embed.ipxe is not in it).
    [ -f "$IPXE_OUT/no-embed/ipxe.efi" ] || summary_all_failed "e2e: no $IPXE_OUT/no-embed/ipxe.efi"
    ! grep -aqF 'set user-class vboot' "$IPXE_OUT/no-embed/ipxe.efi" ||
        summary_all_failed "e2e: $IPXE_OUT/no-embed/ipxe.efi has a script built in"
fi

# ---------------------------------------------------------------------------------------------
# One scenario, run in a subshell with its own rig. Writes $RUN_DIR/<s>.result:
#   PASS <seconds> | FAIL <reason>
run_scenario() {
    local s=$1
    local mac=${MAC[$s]} limit=${E2E_LIMIT:-${LIMIT[$s]}}
    # shellcheck disable=SC2034 # read by lib/rig.sh
    RIG=${RUN_ID}$s
    RIG_DIR=$RUN_DIR/$s
    mkdir -p "$RIG_DIR"
    # shellcheck source=SCRIPTDIR/lib/rig.sh
    . "$HERE/lib/rig.sh"
    local result_file=$RUN_DIR/$s.result
    echo "FAIL aborted before finishing (see $RUN_DIR/$s.out)" >"$result_file"
    trap rig_down EXIT
    trap 'echo "FAIL interrupted" >"$RUN_DIR/$s.result"; exit 143' TERM INT

    fail() {
        echo "FAIL $*" >"$result_file"
        echo "[$s] FAIL: $*"
        {
            echo "---- [$s] FAIL: $*"
            echo "---- [$s] guest serial (last 40 lines, escapes stripped): $RIG_DIR/$s.serial"
            rig_plain "$RIG_DIR/$s.serial" | tail -n 40
            echo "---- [$s] qemu log: $RIG_DIR/$s.qemu.log"
            tail -n 10 "$RIG_DIR/$s.qemu.log" 2>/dev/null
            echo "---- [$s] vboot log (last 60 lines, without ServiceLifecycle's start-up dumps): $RIG_DIR/vboot.log"
            grep -v '\[ServiceLifecycle\]' "$RIG_DIR/vboot.log" 2>/dev/null | tail -n 60 | cut -c1-400
            echo "---- [$s] dnsmasq log (last 30 lines): $RIG_DIR/dnsmasq.log"
            tail -n 30 "$RIG_DIR/dnsmasq.log" 2>/dev/null
            echo "---- [$s] end"
        } >>"$RUN_DIR/$s.details"
        exit 1
    }

    rig_up
    # k, s: vboot is the only DHCP server on the segment (s: GRUB takes its TFTP server from the
    # DHCP ACK, never from a proxy offer).
    case $s in k | s | t | u) ;; *) rig_site_dhcp ;; esac

    # vboot's inputs: boot scripts and assets for this scenario only.
    mkdir -p "$RIG_DIR/boot-scripts/machines" "$RIG_DIR/assets/debian-12" "$RIG_DIR/data"
    cp "$ROOT/boot-scripts/default.ipxe" "$RIG_DIR/boot-scripts/"
    cp -r "$ROOT/boot-scripts/profiles" "$RIG_DIR/boot-scripts/"
    write_machine_script "$s" "$RIG_DIR/boot-scripts/machines"
    local f config=()
    for f in linux initrd.gz; do
        ln "$RUN_DIR/assets/debian-12/$f" "$RIG_DIR/assets/debian-12/$f" 2>/dev/null ||
            cp "$RUN_DIR/assets/debian-12/$f" "$RIG_DIR/assets/debian-12/$f"
    done
    if [ "$s" = j ]; then
        write_oneshot_config "$s"
        config=(--config "$RIG_DIR/vboot.yaml")
    fi
    if [ "$s" = s ] || [ "$s" = t ] || [ "$s" = u ]; then
        write_secure_boot_config "$s"
        config=(--config "$RIG_DIR/vboot.yaml")
    fi

    # arm64 installer for q
    if [ "$s" = q ]; then
        mkdir -p "$RIG_DIR/assets/debian-12-arm64"
        for f in linux initrd.gz; do
            ln "$RUN_DIR/assets/debian-12-arm64/$f" "$RIG_DIR/assets/debian-12-arm64/$f" 2>/dev/null ||
                cp "$RUN_DIR/assets/debian-12-arm64/$f" "$RIG_DIR/assets/debian-12-arm64/$f"
        done
    fi
    # iPXE binaries: vboot's default, Debian's ipxe package (/usr/lib/ipxe, whose ipxe.efi is a
    # symlink to /boot/ipxe.efi); for l-q a directory holding only the one binary of vboot's
    # build the scenario is about.
    if [ -n "${IPXE[$s]:-}" ]; then
        mkdir -p "$RIG_DIR/ipxe"
        cp "$IPXE_OUT/${IPXE[$s]}" "$RIG_DIR/ipxe/"
        config+=(--ipxe-dir "$RIG_DIR/ipxe")
    fi
    local rom=${ROM[$s]}
    [[ $rom != built:* ]] || rom=$IPXE_OUT/${rom#built:}
    ip netns exec "$(rig_ns boot)" "$VBOOT" serve --listen "$BOOT_IP" --interface eth0 --dhcp proxy \
        --http-port "$HTTP_PORT" --boot-scripts "$RIG_DIR/boot-scripts" --assets "$RIG_DIR/assets" \
        --data-dir "$RIG_DIR/data" --log-level "$LOG_LEVEL" ${EXTRA[$s]:-} "${config[@]}" \
        >"$RIG_DIR/vboot.stdout" 2>"$RIG_DIR/vboot.log" &
    local vboot_pid=$!
    RIG_PIDS+=("$vboot_pid")
    if [ "${E2E_PCAP:-0}" = 1 ]; then
        # On the bridge: every host's side (the site DHCP server's answers too), as `vboot trace` sees it.
        ip netns exec "$(rig_ns lan)" tcpdump -i br0 -n -s 0 -U --immediate-mode -w "$RIG_DIR/boot.pcap" \
            2>"$RIG_DIR/tcpdump.log" &
        RIG_PIDS+=($!)
    fi

    # Ready when HTTP answers (bounded: 30 s). The probe uses a MAC no guest has.
    local i code=000 probe=$RIG_DIR/probe.ipxe
    for ((i = 0; i < 60; i++)); do
        rig_alive "$vboot_pid" || fail "vboot exited during startup"
        code=$(ip netns exec "$(rig_ns boot)" curl -s -m 2 -o "$probe" -w '%{http_code}' \
            "http://$BOOT_IP:$HTTP_PORT/boot.ipxe?mac=02-00-00-00-00-ff" || true)
        [ "$code" != 000 ] && break
        sleep 0.5
    done
    [ "$code" != 000 ] || fail "vboot HTTP did not answer on $BOOT_IP:$HTTP_PORT within 30 s"
    # Started as root, vboot serves the LAN as the vboot user with at most CAP_NET_BIND_SERVICE.
    runs_unprivileged "$vboot_pid" || fail "vboot still runs privileged: $(grep -E 'Uid|CapEff' "/proc/$vboot_pid/status" | tr -s '\t\n' '  ')"
    grep -q "no boot script for this machine yet" "$probe" 2>/dev/null ||
        fail "GET /boot.ipxe?mac=02-00-00-00-00-ff returned HTTP $code without the default script"
    sleep 0.5 # DHCP and TFTP listeners come up with HTTP; give them a moment anyway

    local pattern start now
    pattern=$(expect_pattern "$s")
    echo "[$s] guest ${FW[$s]}/${ROM[$s]} $mac booting, waiting up to ${limit} s for: $pattern"
    start=$(date +%s)
    if [ "$s" = h ] || [ "$s" = i ]; then
        # The command line exactly as `vboot rom inject --qemu` prints it, serial into a file.
        local tap=tap-$s cmd nic=e1000
        [ "$s" = h ] || nic=virtio-net
        ip -n "$(rig_ns lan)" tuntap add dev "$tap" mode tap
        ip -n "$(rig_ns lan)" link set "$tap" master br0 up
        cmd=$("$VBOOT" rom inject --qemu --rom "$rom" --nic "$nic" --mac "$mac" --vars "$RIG_DIR/$s.vars" \
            --netdev "tap:$tap" 2>"$RIG_DIR/inject.log") || fail "vboot rom inject --qemu failed: $(cat "$RIG_DIR/inject.log")"
        echo "[$s] $cmd" | cut -c1-240
        cmd=${cmd/-serial stdio/-serial file:$RIG_DIR/$s.serial}
        ip netns exec "$(rig_ns lan)" bash -c "exec $cmd" >"$RIG_DIR/$s.qemu.log" 2>&1 &
        RIG_PIDS+=($!)
        echo $! >"$RIG_DIR/$s.pid"
    elif [ "$s" = g ]; then
        # The VARS file alone must make OVMF boot the network: no bootindex on the NIC.
        "$VBOOT" rom inject --ovmf-vars "$RIG_DIR/injected.vars" --http-url "http://$BOOT_IP:$HTTP_PORT/ipxe/ipxe.efi" \
            >"$RIG_DIR/inject.log" 2>&1 || fail "vboot rom inject --ovmf-vars failed: $(cat "$RIG_DIR/inject.log")"
        RIG_BOOTINDEX=none RIG_VARS=$RIG_DIR/injected.vars rig_guest "$s" "$mac" "${FW[$s]}" "${ROM[$s]}"
    elif [ "$s" = o ]; then
        # vboot's BIOS build writes its console to COM1 itself: no sgabios copy on top.
        RIG_SGA=0 rig_guest "$s" "$mac" "${FW[$s]}" "$rom"
    else
        rig_guest "$s" "$mac" "${FW[$s]}" "$rom"
    fi
    if ! wait_for "$RIG_DIR/$s.serial" "$pattern" "$limit"; then
        fail "no \"$pattern\" in the serial output within ${limit} s"
    fi
    now=$(date +%s)
    local took=$((now - start))
    echo "[$s] matched \"$pattern\" after ${took} s"

    # Extra assertions per scenario.
    case $s in
        a)
            assert_tftp_sent ipxe.efi
            # The timeline ties the TFTP transfer (which sees only an address) to the MAC, through
            # the address the firmware asked the site's DHCP server for.
            local timeline
            timeline=$(rig_api "/timeline?limit=200")
            for want in "\"kind\":\"dhcp\",\"mac\":\"$mac\"" "\"kind\":\"tftp\",\"mac\":\"$mac\"" \
                "\"kind\":\"script\",\"mac\":\"$mac\""; do
                grep -qF -- "$want" <<<"$timeline" || fail "timeline lacks $want"
            done
            echo "[$s] timeline: dhcp, tftp and script events for $mac"
            ;;
        i | o)
            if grep -qE 'proxydhcp: [0-9a-f]{2}:|tftp: [0-9]' "$RIG_DIR/vboot.log"; then
                fail "vboot answered DHCP or TFTP although the ROM should need neither"
            fi
            assert_embedded_script
            ;;
        l | m | n | p | q)
            assert_tftp_sent "${IPXE[$s]}"
            assert_embedded_script
            ;;
        s)
            rig_plain "$RIG_DIR/$s.serial" | grep -F "EFI stub: UEFI Secure Boot is enabled" >/dev/null ||
                fail "the kernel did not report Secure Boot enabled"
            assert_tftp_sent bootnetx64.efi
            assert_tftp_sent grubx64.efi
            assert_tftp_sent "vboot/grub/$mac.cfg"
            assert_tftp_sent debian-12/linux
            local timeline
            timeline=$(rig_api "/timeline?limit=200")
            grep -qF "GRUB configuration: profile debian-netboot" <<<"$timeline" ||
                fail "the timeline lacks the GRUB configuration event"
            echo "[$s] Secure Boot on; shim, GRUB, configuration and kernel over TFTP from vboot"
            ;;
        t)
            assert_tftp_sent ipxe.efi
            # vboot says what happened: the loader went out and nothing asked for a script since.
            local timeline= i
            for ((i = 0; i < 150; i++)); do
                timeline=$(rig_api "/machines/$mac/timeline?limit=50")
                grep -qF "nothing has asked for this machine's script since" <<<"$timeline" && break
                sleep 1
            done
            grep -qF "Secure Boot refuses an unsigned iPXE" <<<"$timeline" ||
                fail "no silent-loader event on the timeline 150 s after the refusal: ${timeline:0:600}"
            grep -q "ipxe.efi was sent .* and nothing has asked" "$RIG_DIR/vboot.log" || fail "no silent-loader warning in vboot's log"
            echo "[$s] timeline and log: ipxe.efi sent, nothing asked for a script (after $(($(date +%s) - start)) s)"
            ;;
        r)
            # The binary has no script (checked after the build): the chain's lines come from the
            # autoexec.ipxe vboot sent.
            assert_tftp_sent ipxe.efi
            assert_tftp_sent autoexec.ipxe
            assert_embedded_script
            ;;
        g)
            grep -q 'GET /ipxe/ipxe.efi' "$RIG_DIR/vboot.log" || fail "vboot's log shows no HTTP download of ipxe.efi"
            if grep -q 'tftp: .*ipxe.efi' "$RIG_DIR/vboot.log"; then fail "ipxe.efi went over TFTP, not UEFI HTTP boot"; fi
            echo "[$s] vboot log: $(grep -m1 'GET /ipxe/ipxe.efi' "$RIG_DIR/vboot.log" | cut -c1-200)"
            ;;
        f)
            grep -q 'REQUEST on 4011 → ACK: tftp ipxe.efi' "$RIG_DIR/vboot.log" ||
                fail "vboot's log shows no boot-server ACK on port 4011"
            grep -q 'OFFER: boot server' "$RIG_DIR/vboot.log" || fail "vboot's log shows no boot-server offer"
            echo "[$s] vboot log: $(grep -m1 'REQUEST on 4011' "$RIG_DIR/vboot.log" | cut -c1-200)"
            ;;
        j)
            assert_oneshot_then_local "vboot: starting the installer" "profile local"
            ;;
        u)
            rig_plain "$RIG_DIR/$s.install.serial" 2>/dev/null | grep -F "EFI stub: UEFI Secure Boot is enabled" >/dev/null ||
                rig_plain "$RIG_DIR/$s.serial" | grep -F "EFI stub: UEFI Secure Boot is enabled" >/dev/null ||
                fail "the installer's kernel did not report Secure Boot enabled"
            assert_oneshot_then_local "EFI stub" "GRUB configuration: local"
            ;;
        k)
            grep -qE 'dhcp: 52:54:00:e2:e0:14 REQUEST → ACK ' "$RIG_DIR/vboot.log" ||
                fail "vboot's log shows no full-DHCP ACK for the guest"
            grep -q '"state":"bound"' <<<"$(rig_api /leases)" || fail "no bound lease in /api/v1/leases"
            echo "[$s] vboot log: $(grep -m1 'REQUEST → ACK' "$RIG_DIR/vboot.log" | cut -c1-200)"
            ;;
        d)
            wait_for "$RIG_DIR/$s.serial" "mac $(hyphen_mac "$mac")" 15 ||
                fail "default script did not show {{mac}} rendered as $(hyphen_mac "$mac")"
            ;;
    esac
    grep -q proxydhcp "$RIG_DIR/vboot.log" || echo "[$s] note: no 'proxydhcp' line in vboot's log"
    echo "PASS $took" >"$result_file"
}

# ---------------------------------------------------------------------------------------------
# Scheduler: up to $JOBS scenarios at once, the slow installer boot (c) first.
declare -A JOB_PID
RUNNING=()

cleanup() {
    local pid ns
    for pid in "${RUNNING[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${RUNNING[@]}"; do wait "$pid" 2>/dev/null || true; done
    RUNNING=()
    # Safety net: namespaces of this run that a killed scenario left behind.
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$RUN_ID" || true); do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT
on_signal() {
    echo "e2e: interrupted, cleaning up" >&2
    cleanup
    [ "${E2E_KEEP:-0}" = 1 ] || rm -rf "$RUN_DIR"
    exit 130
}
trap on_signal INT TERM

finish() {
    local pid=$1 s i
    for s in "${!JOB_PID[@]}"; do
        [ "${JOB_PID[$s]}" = "$pid" ] || continue
        [ -s "$RUN_DIR/$s.details" ] && cat "$RUN_DIR/$s.details"
        unset "JOB_PID[$s]"
    done
    for i in "${!RUNNING[@]}"; do
        [ "${RUNNING[$i]}" = "$pid" ] && unset "RUNNING[$i]"
    done
    RUNNING=("${RUNNING[@]}")
}

ORDER=()
for s in "${SELECTED[@]}"; do [ "$s" = c ] && ORDER+=(c); done
for s in "${SELECTED[@]}"; do [ "$s" = c ] || ORDER+=("$s"); done

echo "vboot e2e: binary $VBOOT"
echo "vboot e2e: run dir $RUN_DIR, namespaces ${RUN_ID}<scenario>-*, up to $JOBS at once"
for s in "${ORDER[@]}"; do
    while [ ${#RUNNING[@]} -ge "$JOBS" ]; do
        done_pid=
        wait -n -p done_pid "${RUNNING[@]}" || true
        [ -n "$done_pid" ] && finish "$done_pid"
    done
    echo "[$s] start: ${DESC[$s]}"
    run_scenario "$s" >"$RUN_DIR/$s.out" 2>&1 &
    pid=$!
    JOB_PID[$s]=$pid
    RUNNING+=("$pid")
    # Progress lines of the scenario go to the terminal as they happen.
    tail -n +1 -f --pid="$pid" "$RUN_DIR/$s.out" 2>/dev/null | grep --line-buffered '^\[' &
done
while [ ${#RUNNING[@]} -gt 0 ]; do
    done_pid=
    wait -n -p done_pid "${RUNNING[@]}" || true
    [ -n "$done_pid" ] && finish "$done_pid"
done
sleep 1.5 # let the progress tails drain (tail --pid polls once a second)

passed=0 failed=0
echo
echo "vboot e2e results:"
for s in "${SELECTED[@]}"; do
    read -r status rest 2>/dev/null <"$RUN_DIR/$s.result" || { status=FAIL rest="no result"; }
    if [ "$status" = PASS ]; then
        passed=$((passed + 1))
        printf '  PASS  %s  %4s s  %s\n' "$s" "$rest" "${DESC[$s]}"
    else
        failed=$((failed + 1))
        printf '  FAIL  %s         %s: %s\n' "$s" "${DESC[$s]}" "$rest"
    fi
done
if [ "$failed" -gt 0 ] || [ "${E2E_KEEP:-0}" = 1 ] || [ "${E2E_PCAP:-0}" = 1 ]; then
    echo "logs kept in $RUN_DIR"
else
    rm -rf "$RUN_DIR"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
