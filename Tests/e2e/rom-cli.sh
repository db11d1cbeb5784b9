#!/usr/bin/env bash
# `vboot rom inspect | inject` and `vboot vm run` as a user runs them, against real files:
# Debian's ipxe-qemu ROMs and ipxe.efi, OVMF's variable store template, a libvirt domain
# checked by libvirt's own schema (virt-xml-validate), and a VARS file read back by
# virt-fw-vars (PyPI virt-firmware). Ends with "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
WORK=$(mktemp -d /tmp/vboot-romcli.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PASSED=0 FAILED=0

check() { # check NAME COMMAND... : passes when the command succeeds
    local name=$1; shift
    if "$@" >"$WORK/out" 2>&1; then
        PASSED=$((PASSED + 1)); echo "PASS  $name"
    else
        FAILED=$((FAILED + 1)); echo "FAIL  $name"; sed 's/^/      /' "$WORK/out" | tail -n 20
    fi
}
fails() { ! "$@"; }
# The command must succeed and print PATTERN. Output goes to a file first: `cmd | grep -q`
# under pipefail fails whenever grep stops reading early and cmd dies of SIGPIPE.
contains() {
    local pattern=$1; shift
    "$@" >"$WORK/last" 2>&1 || return 1
    grep -qE -- "$pattern" "$WORK/last"
}

ROMS=/usr/lib/ipxe/qemu
check "inspect: Debian's e1000 ROM is valid for 8086:100e with an EFI image" \
    "$VBOOT" rom inspect "$ROMS/efi-e1000.rom" --pci-id 8086:100e --require-efi
check "inspect: wrong PCI ID fails and says which" \
    contains "expected 8086:10d3, ROM is 8086:100e" fails "$VBOOT" rom inspect "$ROMS/efi-e1000.rom" --pci-id 8086:10d3
check "inspect: a legacy-only ROM fails --require-efi" fails "$VBOOT" rom inspect "$ROMS/pxe-e1000.rom" --require-efi
check "inspect --json: two images, codes 0 then 3" \
    contains '"codeTypeValue" : 3' "$VBOOT" rom inspect --json "$ROMS/efi-e1000.rom"
check "inspect: ipxe.efi is an x64 EFI application" contains "EFI application" "$VBOOT" rom inspect /usr/lib/ipxe/ipxe.efi
head -c 70000 "$ROMS/efi-e1000.rom" >"$WORK/truncated.rom"
check "inspect: a truncated ROM is an error, not a crash" fails "$VBOOT" rom inspect "$WORK/truncated.rom"

check "inject --qemu: romfile, power-of-two romsize, bootindex, per-VM VARS" \
    contains "e1000,netdev=net0,mac=52:54:00:00:00:09,romfile=$ROMS/efi-e1000.rom,romsize=262144,bootindex=1" \
    "$VBOOT" rom inject --qemu --rom "$ROMS/efi-e1000.rom" --nic e1000 --mac 52:54:00:00:00:09 --vars "$WORK/vm.vars"
check "inject --qemu created the VARS copy" cmp "$WORK/vm.vars" /usr/share/OVMF/OVMF_VARS_4M.fd
check "inject --qemu refuses a ROM for another NIC" \
    fails "$VBOOT" rom inject --qemu --rom "$ROMS/efi-rtl8139.rom" --nic e1000 --vars "$WORK/vm2.vars"

cp "$ROOT/Tests/FirmwareTests/Fixtures/libvirt/q35-disk-boot-order.xml" "$WORK/domain.xml"
check "inject --libvirt edits the domain" \
    "$VBOOT" rom inject --libvirt "$WORK/domain.xml" --rom "$ROMS/efi-virtio.rom" --nic virtio-net --output "$WORK/injected.xml" \
    --ovmf-code /usr/share/OVMF/OVMF_CODE_4M.fd
if command -v virt-xml-validate >/dev/null && command -v xmllint >/dev/null; then
    check "inject --libvirt: libvirt's schema accepts the result" virt-xml-validate "$WORK/injected.xml" domain
else
    echo "SKIP  libvirt schema check (apt install libvirt-clients libxml2-utils)"
fi
check "inject --libvirt: <rom file> and <boot order='1'> on the interface" \
    contains "<rom file='$ROMS/efi-virtio.rom'/>" cat "$WORK/injected.xml"

check "inject --ovmf-vars: HTTP boot entry" \
    "$VBOOT" rom inject --ovmf-vars "$WORK/http.vars" --http-url http://192.0.2.1:8080/ipxe/ipxe.efi --boot-next
if command -v virt-fw-vars >/dev/null; then
    check "virt-fw-vars reads the entry first in BootOrder, BootNext set" \
        contains "BootNext" virt-fw-vars -i "$WORK/http.vars" --print --verbose
    check "virt-fw-vars sees the URI" contains "192.0.2.1:8080/ipxe/ipxe.efi" virt-fw-vars -i "$WORK/http.vars" --print --verbose
else
    echo "SKIP  virt-fw-vars cross-check (pip install virt-firmware)"
fi
check "inject --ovmf-vars: PXE entry bound to a MAC" \
    contains "vboot PXE boot" "$VBOOT" rom inject --ovmf-vars "$WORK/pxe.vars" --pxe --mac 52:54:00:aa:00:01
check "inject --ovmf-vars refuses a file that is not a VARS store" \
    fails "$VBOOT" rom inject --ovmf-vars "$ROMS/efi-e1000.rom" --http-url http://192.0.2.1/x.efi

check "vm run: OVMF reaches its own PXE client (KVM falls back to TCG when it cannot run OVMF)" \
    "$VBOOT" vm run --rom none --until "Start PXE over IPv4" --timeout 120 --quiet

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
