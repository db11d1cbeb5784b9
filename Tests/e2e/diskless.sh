#!/usr/bin/env bash
# Diskless workstations from one shared image: `vboot image build` makes it from Debian's
# packages (mmdebstrap from deb.debian.org, squashfs), vboot serves it in the e2e rig
# (Tests/e2e/lib/rig.sh: the site's dnsmasq, vboot in proxy mode, guests on one bridge).
#
#   build      vboot image build with a site hook: the image's three files and a manifest whose
#              sizes and SHA-256 match them, package versions in it, the hook's work in the image
#   boot       two OVMF guests with different MACs power on at the same time, PXE through vboot
#              (vboot's own iPXE when VBOOT_IPXE_OUT is set, else Debian's), the diskless profile:
#              each reaches a login prompt with its own host name from the inventory. Prints the
#              time from power-on to each prompt and the bytes each machine took from vboot (its
#              timeline)
#   corrupt    a truncated and a corrupted copy of the image are refused (503 with the reason,
#              counted), never served; the intact image still is
#
# Environment: VBOOT (binary, default .build/debug/vboot), VBOOT_IPXE_OUT (vboot's iPXE built for
# http://10.77.0.2:8080), VBOOT_DISKLESS_MIRROR (default http://deb.debian.org/debian),
# E2E_KEEP=1 keeps the work directory. Needs root and the network to reach the mirror.
# The last line is "N passed, N failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
MIRROR=${VBOOT_DISKLESS_MIRROR:-http://deb.debian.org/debian}
HTTP_PORT=8080
MACS=(52:54:00:d1:5c:01 52:54:00:d1:5c:02)
NAMES=(lab-01 lab-02)
# A fixed epoch: the same inputs give the same package set and time stamps.
EPOCH=1764892800

passed=0 failed=0
pass() { echo "PASS  $1${2:+  ($2)}"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1${2:+  ($2)}"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; exit $((failed > 0)); }
early() { fail "$1" "${2:-}"; finish; }

[ "$(id -u)" = 0 ] || early "needs root (mmdebstrap, network namespaces)"
for need in "$VBOOT" /usr/bin/mmdebstrap /usr/bin/mksquashfs /usr/bin/qemu-system-x86_64 /usr/share/OVMF/OVMF_CODE_4M.fd; do
    [ -e "$need" ] || early "missing $need (apt install mmdebstrap squashfs-tools qemu-system-x86 ovmf)"
done

WORK=$(mktemp -d /var/tmp/vboot-diskless-e2e.XXXXXX)
chmod 755 "$WORK"
RIG=vd$(printf '%x' $$)
RIG_DIR=$WORK
# shellcheck source=SCRIPTDIR/lib/rig.sh
. "$HERE/lib/rig.sh"
cleanup() {
    rig_down
    if [ "${E2E_KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
IMAGE=$WORK/assets/images/lab

# --- build ----------------------------------------------------------------------------------------
# The site's hook: a root password for the console, and a file that says the hook ran.
cat >"$WORK/site-hook" <<'EOF'
#!/bin/sh
set -e
echo root:vboot | chroot "$1" chpasswd
echo "built for the vboot e2e" >"$1/etc/vboot-site"
EOF
chmod 755 "$WORK/site-hook"
# Bad input is refused before anything runs, and leaves nothing behind.
if "$VBOOT" image build --out "$IMAGE" --include 'vim;reboot' --hook "$WORK/missing" >"$WORK/refused.log" 2>&1; then
    fail "build: bad input" "vboot image build accepted --include 'vim;reboot'"
elif grep -q "not a Debian package name" "$WORK/refused.log" && [ ! -e "$IMAGE" ]; then
    pass "build: a package name that is not one is refused before anything runs" "$(head -n 1 "$WORK/refused.log")"
else
    fail "build: bad input" "$(head -n 3 "$WORK/refused.log")"
fi
t0=$(date +%s)
if ! "$VBOOT" image build --out "$IMAGE" --mirror "$MIRROR" --hook "$WORK/site-hook" \
    --source-date-epoch "$EPOCH" --work "$WORK" >"$WORK/build.log" 2>&1; then
    tail -n 20 "$WORK/build.log"
    early "build: vboot image build failed"
fi
build_seconds=$(($(date +%s) - t0))
manifest_ok=$(python3 - "$IMAGE" <<'EOF'
import hashlib, json, os, sys
image = sys.argv[1]
manifest = json.load(open(os.path.join(image, "vboot-image.json")))
names = sorted(f["name"] for f in manifest["files"])
ok = names == ["filesystem.squashfs", "initrd.img", "vmlinuz"]
for f in manifest["files"]:
    path = os.path.join(image, f["name"])
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    ok = ok and os.path.getsize(path) == f["size"] and digest == f["sha256"]
packages = {p["name"]: p["version"] for p in manifest["packages"]}
ok = ok and "live-boot" in packages and "systemd-sysv" in packages and manifest["source_date_epoch"] == 1764892800
ok = ok and [h["name"] for h in manifest["hooks"]] == ["site-hook"]
print("yes" if ok else "no", len(packages), os.path.getsize(os.path.join(image, "filesystem.squashfs")))
EOF
)
read -r manifest_good package_count image_bytes <<<"$manifest_ok"
if [ "$manifest_good" = yes ] && unsquashfs -cat "$IMAGE/filesystem.squashfs" etc/vboot-site 2>/dev/null | grep -q "built for the vboot e2e" &&
    ! unsquashfs -l "$IMAGE/filesystem.squashfs" 2>/dev/null | grep -q '^squashfs-root/boot/vmlinuz'; then
    pass "build: vboot image build in ${build_seconds} s, $package_count packages, image $image_bytes bytes; manifest sizes and SHA-256 match, the site hook ran, /boot left out"
else
    fail "build: the image or its manifest" "manifest check: $manifest_ok"
fi

# --- vboot ----------------------------------------------------------------------------------------
rig_up
rig_site_dhcp
mkdir -p "$WORK/boot-scripts/profiles" "$WORK/data"
cp "$ROOT/boot-scripts/default.ipxe" "$WORK/boot-scripts/"
cp "$ROOT/boot-scripts/profiles/diskless.profile" "$WORK/boot-scripts/profiles/"
chmod -R o+rX "$WORK/boot-scripts" "$WORK/assets"
IPXE_ARGS=()
IPXE_WHICH="Debian's iPXE"
if [ -n "${VBOOT_IPXE_OUT:-}" ] && [ -f "$VBOOT_IPXE_OUT/ipxe.efi" ]; then
    IPXE_ARGS=(--ipxe-dir "$VBOOT_IPXE_OUT")
    IPXE_WHICH="vboot's own iPXE"
fi
ip netns exec "$(rig_ns boot)" "$VBOOT" serve --listen "$BOOT_IP" --interface eth0 --dhcp proxy \
    --http-port "$HTTP_PORT" --boot-scripts "$WORK/boot-scripts" --assets "$WORK/assets" --data-dir "$WORK/data" \
    ${IPXE_ARGS[@]+"${IPXE_ARGS[@]}"} >"$WORK/vboot.stdout" 2>"$WORK/vboot.log" &
VBOOT_PID=$!
RIG_PIDS+=("$VBOOT_PID")
for ((i = 0; i < 60; i++)); do
    rig_alive "$VBOOT_PID" || early "vboot exited: $(tail -n 3 "$WORK/vboot.log")"
    ip netns exec "$(rig_ns boot)" curl -s -m 2 -o /dev/null "http://$BOOT_IP:$HTTP_PORT/health" && break
    sleep 0.5
done
api() { ip netns exec "$(rig_ns boot)" "$VBOOT" "$@" --token-file "$WORK/data/api-token"; }
metric() {
    ip netns exec "$(rig_ns boot)" curl -s -H "Authorization: Bearer $(cat "$WORK/data/api-token")" \
        http://127.0.0.1:8081/metrics | awk -v name="vboot_$1_total" '$1 == name { n = $2 } END { print n + 0 }'
}
for i in 0 1; do
    api machines add "${MACS[$i]}" --hostname "${NAMES[$i]}" --profile diskless --var console=ttyS0,115200n8 >/dev/null
done

# --- boot -----------------------------------------------------------------------------------------
RIG_MEMORY=1536
started=$(date +%s.%N)
for i in 0 1; do rig_guest "g$i" "${MACS[$i]}" uefi default; done
declare -A AT
deadline=$(($(date +%s) + 420))
while [ "$(date +%s)" -lt "$deadline" ]; do
    for i in 0 1; do
        [ -z "${AT[$i]:-}" ] || continue
        if rig_plain "$WORK/g$i.serial" | grep -E "^${NAMES[$i]} login:" >/dev/null; then
            AT[$i]=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
        fi
    done
    [ -n "${AT[0]:-}" ] && [ -n "${AT[1]:-}" ] && break
    sleep 1
done
# Bytes each machine took from vboot: its timeline's file events (TFTP and HTTP).
bytes_of() {
    api machines timeline "$1" --limit 200 --json 2>/dev/null | python3 -c '
import json, sys
events = json.load(sys.stdin)["events"]
print(sum(int((e.get("details") or {}).get("bytes", 0) or 0) for e in events))'
}
if [ -n "${AT[0]:-}" ] && [ -n "${AT[1]:-}" ]; then
    pass "boot: two OVMF guests at once through vboot ($IPXE_WHICH, the diskless profile) to their own login prompts" \
        "${NAMES[0]} ${AT[0]} s, ${NAMES[1]} ${AT[1]} s from power-on; bytes from vboot: ${NAMES[0]} $(bytes_of "${MACS[0]}"), ${NAMES[1]} $(bytes_of "${MACS[1]}")"
else
    for i in 0 1; do
        echo "--- g$i serial (last lines)"; rig_plain "$WORK/g$i.serial" | tail -n 8
    done
    fail "boot: both guests to a login prompt with their own names" "reached: ${AT[0]:-no} ${AT[1]:-no}"
fi
# The shared image was hashed once for both machines.
[ "$(metric image_files_verified)" = 3 ] && [ "$(metric image_verification_failures)" = 0 ] &&
    pass "boot: the image's three files checked against the manifest once, for both machines" ||
    fail "boot: image checks" "verified $(metric image_files_verified), failures $(metric image_verification_failures)"
for i in 0 1; do rig_stop_guest "g$i"; done

# --- corrupt --------------------------------------------------------------------------------------
client_get() { # client_get PATH -> "STATUS BYTES" of a GET from the site's namespace
    ip netns exec "$(rig_ns site)" curl -s -o "$WORK/got" -w '%{http_code} %{size_download}' \
        "http://$BOOT_IP:$HTTP_PORT/assets/images/$1"
}
for copy in truncated corrupted; do
    mkdir -p "$WORK/assets/images/$copy"
    cp "$IMAGE/vboot-image.json" "$IMAGE/vmlinuz" "$IMAGE/initrd.img" "$WORK/assets/images/$copy/"
    cp "$IMAGE/filesystem.squashfs" "$WORK/assets/images/$copy/"
done
truncate -s $((image_bytes / 2)) "$WORK/assets/images/truncated/filesystem.squashfs"
printf '\xff' | dd of="$WORK/assets/images/corrupted/filesystem.squashfs" bs=1 seek=$((image_bytes / 3)) conv=notrunc status=none
chmod -R o+rX "$WORK/assets"
read -r cut_status cut_bytes <<<"$(client_get truncated/filesystem.squashfs)"
cut_says=$(cat "$WORK/got")
read -r bad_status bad_bytes <<<"$(client_get corrupted/filesystem.squashfs)"
bad_says=$(cat "$WORK/got")
read -r good_status good_bytes <<<"$(client_get lab/filesystem.squashfs)"
if [ "$cut_status" = 503 ] && [[ $cut_says == *"not the $image_bytes its manifest names"* ]] &&
    [ "$bad_status" = 503 ] && [[ $bad_says == *"corrupted or replaced"* ]] &&
    [ "$(metric image_verification_failures)" = 2 ] && [ "$good_status" = 200 ] && [ "$good_bytes" = "$image_bytes" ]; then
    pass "corrupt: a truncated and a corrupted image are refused (503 with the reason, counted), the intact one served"
else
    fail "corrupt" "truncated $cut_status ($cut_bytes bytes: $cut_says), corrupted $bad_status ($bad_says), intact $good_status $good_bytes, failures $(metric image_verification_failures)"
fi

finish
