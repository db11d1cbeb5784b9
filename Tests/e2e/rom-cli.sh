#!/usr/bin/env bash
# `vboot rom inspect | inject` and `vboot vm run` as a user runs them, against real files:
# Debian's ipxe-qemu ROMs and ipxe.efi, OVMF's variable store template, a libvirt domain
# checked by libvirt's own schema (virt-xml-validate), and a VARS file read back by
# virt-fw-vars (PyPI virt-firmware). A check whose tool is missing is skipped, visibly: the last
# line is "N passed, N failed", with ", N skipped" when something was skipped; the exit status is
# non-zero on any failure.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
WORK=$(mktemp -d /tmp/vboot-romcli.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PASSED=0 FAILED=0 SKIPPED=0

check() { # check NAME COMMAND... : passes when the command succeeds
    local name=$1; shift
    if "$@" >"$WORK/out" 2>&1; then
        PASSED=$((PASSED + 1)); echo "PASS  $name"
    else
        FAILED=$((FAILED + 1)); echo "FAIL  $name"; sed 's/^/      /' "$WORK/out" | tail -n 20
    fi
}
skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIP  $*"; }
# fails COMMAND...: the command must fail the way vboot reports an error: exit status 1
# (ArgumentParser's ExitCode.failure) and a message on stderr. A crash (a Swift trap is SIGILL or
# SIGTRAP, exit 132/133; any signal is 128+N) or a usage error (64) is not the expected failure.
# Both outputs are passed on, for `contains`.
fails() {
    local status=0
    "$@" >"$WORK/fails.out" 2>"$WORK/fails.err" || status=$?
    cat "$WORK/fails.out" "$WORK/fails.err"
    if [ "$status" -ne 1 ]; then
        echo "expected exit status 1 (an error), got $status$([ "$status" -lt 128 ] || echo " (signal $((status - 128)))")"
        return 1
    fi
    [ -s "$WORK/fails.err" ] || { echo "exit status 1 but nothing on stderr"; return 1; }
}
# finds_problems COMMAND...: `vboot rom inspect` found problems: exit status 1 and its report on
# stdout ending in the list ("N problem(s):"), nothing on stderr (that is for files it cannot read).
finds_problems() {
    local status=0
    "$@" >"$WORK/fails.out" 2>"$WORK/fails.err" || status=$?
    cat "$WORK/fails.out" "$WORK/fails.err"
    [ "$status" -eq 1 ] || { echo "expected exit status 1 (problems found), got $status"; return 1; }
    [ ! -s "$WORK/fails.err" ] || { echo "unexpected stderr"; return 1; }
    grep -qE '^[0-9]+ problems?:$' "$WORK/fails.out" || { echo "no list of problems on stdout"; return 1; }
}
# The command must succeed and print PATTERN. Output goes to a file first: `cmd | grep -q`
# under pipefail fails whenever grep stops reading early and cmd dies of SIGPIPE.
contains() {
    local pattern=$1; shift
    "$@" >"$WORK/last" 2>&1 || { cat "$WORK/last"; return 1; }
    grep -qE -- "$pattern" "$WORK/last" || { cat "$WORK/last"; echo "no line matches: $pattern"; return 1; }
}

ROMS=/usr/lib/ipxe/qemu
check "inspect: Debian's e1000 ROM is valid for 8086:100e with an EFI image" \
    "$VBOOT" rom inspect "$ROMS/efi-e1000.rom" --pci-id 8086:100e --require-efi
check "inspect: wrong PCI ID fails and says which" \
    contains "expected 8086:10d3, ROM is 8086:100e" finds_problems "$VBOOT" rom inspect "$ROMS/efi-e1000.rom" --pci-id 8086:10d3
check "inspect: a legacy-only ROM fails --require-efi" \
    contains "no EFI image" finds_problems "$VBOOT" rom inspect "$ROMS/pxe-e1000.rom" --require-efi
# two_images_0_then_3 FILE: the JSON report lists exactly two images, code types 0 then 3.
two_images_0_then_3() {
    "$VBOOT" rom inspect --json "$1" >"$WORK/inspect.json" || return 1
    python3 -c '
import json, sys
[report] = json.load(open(sys.argv[1]))
codes = [image["codeTypeValue"] for image in report["images"]]
print("code types:", codes)
sys.exit(codes != [0, 3])' "$WORK/inspect.json"
}
check "inspect --json: two images, codes 0 then 3" two_images_0_then_3 "$ROMS/efi-e1000.rom"
check "inspect: ipxe.efi is an x64 EFI application" \
    contains "PE32\+ x64, EFI application" "$VBOOT" rom inspect /usr/lib/ipxe/ipxe.efi
head -c 70000 "$ROMS/efi-e1000.rom" >"$WORK/truncated.rom"
check "inspect: a truncated ROM is an error, not a crash" \
    contains "past the end of the 70000-byte file" fails "$VBOOT" rom inspect "$WORK/truncated.rom"

# qemu_args: `inject --qemu` prints a command with a NIC carrying the ROM, a power-of-two
# romsize that holds it, bootindex=1, OVMF's code read-only and the per-VM VARS copy writable.
qemu_args() {
    local out=$WORK/qemu.args rom_size device size
    "$VBOOT" rom inject --qemu --rom "$ROMS/efi-e1000.rom" --nic e1000 --mac 52:54:00:00:00:09 --vars "$WORK/vm.vars" \
        >"$out" || return 1
    cat "$out"
    rom_size=$(stat -c %s "$ROMS/efi-e1000.rom")
    device=$(grep -oE -- "-device e1000,netdev=net0,mac=52:54:00:00:00:09,romfile=$ROMS/efi-e1000.rom,romsize=[0-9]+,bootindex=1( |$)" "$out") ||
        { echo "no e1000 device with that MAC, romfile and bootindex=1"; return 1; }
    size=${device##*romsize=}; size=${size%%,*}
    (( size >= rom_size && (size & (size - 1)) == 0 )) || { echo "romsize $size: not a power of two >= $rom_size"; return 1; }
    grep -qF -- "-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd " "$out" ||
        { echo "no read-only OVMF code pflash"; return 1; }
    grep -qF -- "-drive if=pflash,format=raw,unit=1,file=$WORK/vm.vars " "$out" || { echo "no pflash on $WORK/vm.vars"; return 1; }
}
check "inject --qemu: romfile, power-of-two romsize, bootindex, per-VM VARS" qemu_args
check "inject --qemu created the VARS copy" cmp "$WORK/vm.vars" /usr/share/OVMF/OVMF_VARS_4M.fd
check "inject --qemu refuses a ROM for another NIC" \
    contains "does not suit a e1000 NIC" fails "$VBOOT" rom inject --qemu --rom "$ROMS/efi-rtl8139.rom" --nic e1000 --vars "$WORK/vm2.vars"

cp "$ROOT/Tests/FirmwareTests/Fixtures/libvirt/q35-disk-boot-order.xml" "$WORK/domain.xml"
check "inject --libvirt edits the domain" \
    "$VBOOT" rom inject --libvirt "$WORK/domain.xml" --rom "$ROMS/efi-virtio.rom" --nic virtio-net --output "$WORK/injected.xml" \
    --ovmf-code /usr/share/OVMF/OVMF_CODE_4M.fd
if command -v virt-xml-validate >/dev/null && command -v xmllint >/dev/null; then
    check "inject --libvirt: libvirt's schema accepts the result" virt-xml-validate "$WORK/injected.xml" domain
    # xpath_is EXPECTED EXPR: xmllint evaluates EXPR on the injected domain.
    xpath_is() {
        local got
        got=$(xmllint --xpath "$2" "$WORK/injected.xml") || return 1
        [ "$got" = "$1" ] || { echo "$2 = $got, expected $1"; return 1; }
    }
    check "inject --libvirt: <rom file> and <boot order='1'> on the interface" \
        xpath_is 1 "count(/domain/devices/interface[rom/@file='$ROMS/efi-virtio.rom'][boot/@order='1'])"
    check "inject --libvirt: the disks follow, in their old order (2, 3)" \
        xpath_is "2 3" "concat(/domain/devices/disk[target/@dev='vda']/boot/@order, ' ', /domain/devices/disk[target/@dev='sda']/boot/@order)"
    check "inject --libvirt: OVMF loader and VARS template" \
        xpath_is "/usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd" \
        "concat(/domain/os/loader[@type='pflash'][@readonly='yes'], ' ', /domain/os/nvram/@template)"
else
    for name in "libvirt's schema accepts the result" "<rom file> and <boot order='1'> on the interface" \
        "the disks follow" "OVMF loader and VARS template"; do
        skip "inject --libvirt: $name (apt install libvirt-clients libxml2-utils)"
    done
fi

# An HTTP boot entry into a store that already has three (OVMF's own, after two boots).
gzip -dc "$ROOT/Tests/FirmwareTests/Fixtures/booted.fd.gz" >"$WORK/http.vars"
check "inject --ovmf-vars: HTTP boot entry, first in BootOrder, BootNext set" \
    contains 'Boot0003 "vboot HTTP boot" first in BootOrder, BootNext set' \
    "$VBOOT" rom inject --ovmf-vars "$WORK/http.vars" --http-url http://192.0.2.1:8080/ipxe/ipxe.efi --boot-next
# vfv_entry_first FILE TITLE DEVPATH OLD_ORDER: virt-fw-vars reads one Boot#### with TITLE and
# DEVPATH; BootOrder is that entry, then OLD_ORDER; BootNext is that entry.
vfv_entry_first() {
    virt-fw-vars -i "$1" --print --verbose >"$WORK/vfv.txt" 2>&1 || { cat "$WORK/vfv.txt"; return 1; }
    python3 -c '
import re, sys
text, title, devpath, old = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], sys.argv[4]
entries, orders, name = {}, {}, None
for line in text.splitlines():
    if m := re.match(r"name=(\S+) guid=guid:EfiGlobalVariable ", line):
        name = m[1]
    elif line.startswith("name="):
        name = None
    elif name and (m := re.match(r"  boot entry: title=\"(.*)\" devpath=(\S+)", line)):
        entries[name] = (m[1], m[2])
    elif name and (m := re.match(r"  boot order: (.*)", line)):
        orders[name] = m[1]
ours = [n[4:] for n, e in entries.items() if e == (title, devpath)]
print("entries:", entries, "\norders:", orders)
if len(ours) != 1: sys.exit(f"expected one Boot#### {title!r} {devpath}, found {ours}")
if orders.get("BootOrder") != ", ".join([ours[0]] + old.split()): sys.exit(f"BootOrder does not start with {ours[0]}, then {old}")
if orders.get("BootNext") != ours[0]: sys.exit(f"BootNext is not {ours[0]}")' "$WORK/vfv.txt" "$2" "$3" "$4"
}
if command -v virt-fw-vars >/dev/null; then
    check "virt-fw-vars reads the entry first in BootOrder, BootNext set" \
        vfv_entry_first "$WORK/http.vars" "vboot HTTP boot" "URI(http://192.0.2.1:8080/ipxe/ipxe.efi)" "0000 0001 0002"
else
    skip "virt-fw-vars cross-check (pip install virt-firmware)"
fi

# mac_node FILE: the store holds a MAC device path node for 52:54:00:aa:00:01 (UEFI 2.10 §10.3.5.11:
# type 3, subtype 0x0b, length 37, the address padded to 32 bytes, IfType 1 = Ethernet).
mac_node() {
    od -An -v -tx1 "$1" | tr -d ' \n' | grep -q "030b2500525400aa0001$(printf '00%.0s' {1..26})01"
}
check "inject --ovmf-vars: PXE entry, store created from the template" \
    contains 'Boot0000 "vboot PXE boot" first in BootOrder' \
    "$VBOOT" rom inject --ovmf-vars "$WORK/pxe.vars" --pxe --mac 52:54:00:aa:00:01
check "inject --ovmf-vars: the PXE entry is bound to the MAC" mac_node "$WORK/pxe.vars"
cp "$ROMS/efi-e1000.rom" "$WORK/not-vars.rom"
check "inject --ovmf-vars refuses a file that is not a VARS store" \
    contains 'FV.Signature at offset 0x28' fails "$VBOOT" rom inject --ovmf-vars "$WORK/not-vars.rom" --http-url http://192.0.2.1/x.efi
check "inject --ovmf-vars left that file alone" cmp "$WORK/not-vars.rom" "$ROMS/efi-e1000.rom"

# usage_error COMMAND...: ArgumentParser refused the arguments (exit status 64, a message on stderr).
usage_error() {
    local status=0
    "$@" >"$WORK/fails.out" 2>"$WORK/fails.err" || status=$?
    cat "$WORK/fails.out" "$WORK/fails.err"
    [ "$status" -eq 64 ] || { echo "expected exit status 64 (a usage error), got $status"; return 1; }
}
check "rom build: the embedded script needs --server" \
    contains 'needs --server|--server URL is needed' usage_error "$VBOOT" rom build --target ipxe.efi --out "$WORK/never"
check "rom build --no-embed takes no --server" \
    contains 'no --server or --embed' usage_error "$VBOOT" rom build --no-embed --server http://192.0.2.1 --out "$WORK/never"
check "rom build --no-embed refuses targets that would run no script" \
    contains 'undionly.kpxe would run no script' fails "$VBOOT" rom build --no-embed --recipe "$ROOT/ipxe" \
    --target ipxe.efi --target undionly.kpxe --out "$WORK/never" --cache "$WORK/never-cache"
check "rom build refused those before building anything" test ! -e "$WORK/never" -a ! -e "$WORK/never-cache"

check "vm run: OVMF reaches its own PXE client (KVM falls back to TCG when it cannot run OVMF)" \
    "$VBOOT" vm run --rom none --until "Start PXE over IPv4" --timeout 120 --quiet

if [ "$SKIPPED" -gt 0 ]; then
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
else
    echo "$PASSED passed, $FAILED failed"
fi
[ "$FAILED" = 0 ]
