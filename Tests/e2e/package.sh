#!/usr/bin/env bash
# The Debian package as an admin meets it: `apt install ./vboot_*.deb` into a fresh Debian 12
# root (mmdebstrap from Debian's registry), the installed /usr/bin/vboot run the way the installed
# unit runs it (its User=, capabilities and ExecStart, through setpriv, in a chroot inside the
# rig's boot namespace), an OVMF guest booted through it to its per-MAC script, an upgrade over a
# populated inventory, then remove and purge.
#
#   Tests/e2e/package.sh NEW.deb PREVIOUS.deb
#
# PREVIOUS.deb is installed first, NEW.deb over it (scripts/test-package packages one build twice,
# the previous under a lower version: the upgrade proves the maintainer scripts keep the inventory
# and the admin's config, not a schema migration between two releases; the chroot runs no
# systemd, so the restart-on-upgrade and deb-systemd-helper branches are not exercised here).
# Environment: IPXE_OUT, the directory whose ipxe.efi the guest boots (default $VBOOT_IPXE_OUT,
# else Debian's /usr/lib/ipxe); vboot's own build must be for http://10.77.0.2:8080;
# VBOOT_PACKAGE_ROOT=TARBALL reuses a Debian root mmdebstrap made before (it is unpacked fresh).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
NEW_DEB=${1:-}
OLD_DEB=${2:-}
IPXE_OUT=${IPXE_OUT:-${VBOOT_IPXE_OUT:-/usr/lib/ipxe}}
MAC=52:54:00:7e:57:01
HTTP_PORT=8080

# shellcheck source=lib/report.sh
. "$HERE/lib/report.sh"

[ "$(id -u)" = 0 ] || early_fail "needs root (chroot, network namespaces)"
for cmd in mmdebstrap qemu-system-x86_64 setpriv systemd-analyze ip curl dpkg-deb; do
    command -v "$cmd" >/dev/null || early_fail "missing command: $cmd"
done
[ -f "$NEW_DEB" ] && [ -f "$OLD_DEB" ] || early_fail "usage: Tests/e2e/package.sh NEW.deb PREVIOUS.deb"
[ -f "$IPXE_OUT/ipxe.efi" ] || early_fail "no $IPXE_OUT/ipxe.efi (vboot rom build --target ipxe.efi, or apt-get install ipxe)"
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || early_fail "missing OVMF (apt-get install ovmf)"

# shellcheck source=lib/rig.sh
. "$HERE/lib/rig.sh"
# shellcheck source=lib/processes.sh
. "$HERE/lib/processes.sh"
TARGET=$RIG_DIR/root # the Debian root the package goes into
MOUNTS=()
cleanup() {
    local m
    rig_down
    for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
    # Never delete through a bind mount of the host's /proc or /dev that did not come off.
    for m in "${MOUNTS[@]}"; do
        if mountpoint -q "$m"; then echo "still mounted: $m; rig directory kept: $RIG_DIR"; return; fi
    done
    if [ "$FAILED" -gt 0 ]; then echo "rig directory kept: $RIG_DIR"; else rm -rf --one-file-system "$RIG_DIR"; fi
}
trap cleanup EXIT
trap 'echo "package: interrupted" >&2; exit 130' INT TERM

in_root() { chroot "$TARGET" "$@"; }
apt_in_root() { DEBIAN_FRONTEND=noninteractive in_root apt-get -y -q --no-install-recommends "$@"; }

echo "== a fresh Debian 12 root"
if [ -n "${VBOOT_PACKAGE_ROOT:-}" ] && [ -f "$VBOOT_PACKAGE_ROOT" ]; then
    mkdir -p "$TARGET" && tar -C "$TARGET" -xf "$VBOOT_PACKAGE_ROOT" ||
        early_fail "unpacking $VBOOT_PACKAGE_ROOT"
else
    timeout 900 mmdebstrap --variant=apt --quiet bookworm "$TARGET" http://deb.debian.org/debian \
        >"$RIG_DIR/mmdebstrap.log" 2>&1 || early_fail "mmdebstrap bookworm" "" "$RIG_DIR/mmdebstrap.log"
    [ -z "${VBOOT_PACKAGE_ROOT:-}" ] || tar -C "$TARGET" -cf "$VBOOT_PACKAGE_ROOT" .
fi
cp /etc/resolv.conf "$TARGET/etc/resolv.conf"
for m in proc dev; do
    mount --bind "/$m" "$TARGET/$m" && MOUNTS+=("$TARGET/$m") || early_fail "mount /$m into the root"
done
in_root id vboot >/dev/null 2>&1 && early_fail "the fresh root already has a vboot user"
pass "Debian 12 root from mmdebstrap: $(cat "$TARGET/etc/debian_version"), no vboot user"

echo "== apt install ./$(basename "$OLD_DEB") (the previous package)"
cp "$OLD_DEB" "$TARGET/tmp/previous.deb"
cp "$NEW_DEB" "$TARGET/tmp/new.deb"
apt_in_root update >"$RIG_DIR/apt.log" 2>&1 || early_fail "apt-get update in the root" "" "$RIG_DIR/apt.log"
apt_in_root install /tmp/previous.deb >>"$RIG_DIR/apt.log" 2>&1 ||
    early_fail "apt install the previous package" "" "$RIG_DIR/apt.log"
pass "apt installs the package and what it depends on"
uid=$(in_root id -u vboot 2>/dev/null)
[ -n "$uid" ] && [ "$uid" -lt 1000 ] && [ "$(in_root id -gn vboot)" = vboot ] &&
    pass "a vboot system user and group (uid $uid)" || fail "a vboot system user" "uid '$uid'"
state=$(in_root stat -c '%a %U' /var/lib/vboot 2>/dev/null) # the root's user names, not the host's
[ "$state" = "700 vboot" ] && pass "/var/lib/vboot: 0700, owned by vboot" || fail "/var/lib/vboot: 0700 vboot" "$state"
libs=$(in_root ldd /usr/bin/vboot 2>&1)
if grep -q "not found" <<<"$libs" || grep -qi swift <<<"$libs"; then
    fail "the binary needs only Debian's libraries" "$libs"
else
    pass "ldd finds every library; it links $(readelf -d "$TARGET/usr/bin/vboot" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd ' ')"
fi
want=$(dpkg-deb -f "$OLD_DEB" Version)
version=$(in_root /usr/bin/vboot --version) && [ "$version" = "${want%%~*}" ] &&
    pass "vboot --version: $version" || fail "vboot --version says the package's version" "'$version', package $want"
for f in /etc/vboot/vboot.yaml /lib/systemd/system/vboot.service /usr/share/vboot/boot-scripts/default.ipxe \
    /usr/share/vboot/ipxe/ipxe.lock /usr/share/doc/vboot/copyright; do
    [ -f "$TARGET$f" ] || fail "installed: $f"
done
grep -qx /etc/vboot/vboot.yaml "$TARGET/var/lib/dpkg/info/vboot.conffiles" &&
    pass "/etc/vboot/vboot.yaml is a conffile" || fail "/etc/vboot/vboot.yaml is a conffile"
config=$(in_root stat -c '%a %U %G' /etc/vboot/vboot.yaml 2>/dev/null)
[ "$config" = "640 root vboot" ] && pass "/etc/vboot/vboot.yaml: 0640 root:vboot (it may hold a database password)" ||
    fail "/etc/vboot/vboot.yaml: 0640 root:vboot" "$config"

UNIT=$TARGET/lib/systemd/system/vboot.service
sed "s#^ExecStart=/usr/bin/vboot #ExecStart=$TARGET/usr/bin/vboot #" "$UNIT" >"$RIG_DIR/vboot.service"
out=$(systemd-analyze verify "$RIG_DIR/vboot.service" 2>&1)
[ -z "$out" ] && pass "systemd-analyze verify accepts the installed unit" || fail "systemd-analyze verify" "$out"

# The site: dnsmasq hands out addresses; the boot namespace runs the installed vboot.
rig_up
rig_site_dhcp
BOOT_NS=$(rig_ns boot)

# start_unit LOG: the installed vboot, the way its unit starts it (User=, AmbientCapabilities=,
# CapabilityBoundingSet=, NoNewPrivileges=, ExecStart=), chrooted, in the boot namespace.
VBOOT_PID=
start_unit() {
    local log=$1 user caps cap exec i
    user=$(sed -n 's/^User=//p' "$UNIT")
    caps=$(sed -n 's/^AmbientCapabilities=//p' "$UNIT")
    cap=${caps#CAP_}
    cap=${cap,,}
    read -r -a exec <<<"$(sed -n 's/^ExecStart=//p' "$UNIT")"
    ip netns exec "$BOOT_NS" chroot "$TARGET" setpriv --reuid "$user" --regid "$user" --init-groups \
        --inh-caps "+$cap" --ambient-caps "+$cap" --bounding-set "-all,+$cap" --no-new-privs -- \
        "${exec[@]}" >"$log" 2>&1 &
    VBOOT_PID=$!
    RIG_PIDS+=("$VBOOT_PID")
    for ((i = 0; i < 60; i++)); do
        rig_alive "$VBOOT_PID" || return 1
        ip netns exec "$BOOT_NS" curl -s -m 2 -o /dev/null "http://$BOOT_IP:$HTTP_PORT/boot.ipxe" && return 0
        sleep 0.5
    done
    return 1
}
stop_unit() { stop_pid "$VBOOT_PID"; }
machines() { ip netns exec "$BOOT_NS" chroot "$TARGET" /usr/bin/vboot machines "$@"; }

echo "== the previous package's vboot, with the shipped config as it is: a populated inventory"
if start_unit "$RIG_DIR/previous.log"; then
    pass "the installed unit's way starts vboot (User=vboot, CAP_NET_BIND_SERVICE)"
    ip netns exec "$BOOT_NS" curl -s -m 5 "http://$BOOT_IP:$HTTP_PORT/boot.ipxe?mac=02-00-00-00-00-01" >"$RIG_DIR/default.ipxe"
    grep -q "no boot script for this machine yet" "$RIG_DIR/default.ipxe" &&
        pass "with no boot_scripts set it serves /usr/share/vboot/boot-scripts/default.ipxe" ||
        fail "the default boot scripts are the packaged ones" "$(head -c 300 "$RIG_DIR/default.ipxe")"
    RUNS_AS_UID=$uid runs_unprivileged "$VBOOT_PID" && pass "it runs as uid $uid with CAP_NET_BIND_SERVICE at most" ||
        fail "it runs unprivileged" "$(credentials "$VBOOT_PID")"
    grep -q "schema 0 → " "$RIG_DIR/previous.log" && pass "a new inventory: $(grep -o 'schema 0 → [^,]*' "$RIG_DIR/previous.log")" ||
        fail "the first start creates the schema (logged)" "" "$RIG_DIR/previous.log"
    for n in 1 2 3; do
        machines add "52:54:00:00:00:0$n" --hostname "kept-$n" >>"$RIG_DIR/machines.log" 2>&1 ||
            fail "vboot machines add 52:54:00:00:00:0$n" "" "$RIG_DIR/machines.log"
    done
    stop_unit
else
    early_fail "the installed unit's way starts vboot" "" "$RIG_DIR/previous.log"
fi

# The admin's settings, the way the example file says: the address, the interface, the boot
# scripts copied to /etc/vboot, vboot's own iPXE build.
cp -r "$TARGET/usr/share/vboot/boot-scripts" "$TARGET/etc/vboot/"
mkdir -p "$TARGET/srv/vboot/ipxe"
cp "$IPXE_OUT/ipxe.efi" "$TARGET/srv/vboot/ipxe/"
cat >>"$TARGET/etc/vboot/vboot.yaml" <<EOF
listen: $BOOT_IP
interface: eth0
boot_scripts: /etc/vboot/boot-scripts
ipxe_dir: [/srv/vboot/ipxe]
EOF
cat >"$TARGET/etc/vboot/boot-scripts/machines/${MAC//:/-}.ipxe" <<EOF
#!ipxe
echo vboot-package per-mac script \${net0/mac}
shell
EOF
chmod -R o+rX "$TARGET/etc/vboot/boot-scripts" "$TARGET/srv/vboot"

echo "== apt install ./$(basename "$NEW_DEB") over it"
echo "# an admin's line, kept by the upgrade" >>"$TARGET/etc/vboot/vboot.yaml"
inode_before=$(stat -c %i "$TARGET/var/lib/vboot/vboot.sqlite" 2>/dev/null)
apt_in_root install /tmp/new.deb >>"$RIG_DIR/apt.log" 2>&1 && pass "the newer package installs over it" ||
    fail "apt install the newer package" "" "$RIG_DIR/apt.log"
installed=$(in_root dpkg-query -W -f '${Version}' vboot)
[ "$installed" = "$(dpkg-deb -f "$NEW_DEB" Version)" ] && pass "dpkg has version $installed" ||
    fail "the upgrade's version" "$installed"
grep -q "an admin's line, kept by the upgrade" "$TARGET/etc/vboot/vboot.yaml" &&
    pass "the admin's /etc/vboot/vboot.yaml is kept" || fail "the admin's /etc/vboot/vboot.yaml is kept"
inode_after=$(stat -c %i "$TARGET/var/lib/vboot/vboot.sqlite" 2>/dev/null)
[ -n "$inode_before" ] && [ "$inode_before" = "$inode_after" ] &&
    pass "the inventory file is the same file" || fail "the inventory file is untouched by the upgrade" "inode $inode_before, then $inode_after"

echo "== the upgraded vboot boots an OVMF guest to its per-MAC script"
if start_unit "$RIG_DIR/new.log"; then
    grep -q "schema [0-9]*, up to date" "$RIG_DIR/new.log" && pass "no migration runs twice: $(grep -o 'schema [0-9]*, up to date' "$RIG_DIR/new.log")" ||
        fail "the upgrade's start logs the schema up to date" "" "$RIG_DIR/new.log"
    listed=$(machines list 2>&1)
    kept=$(grep -c "kept-[123]" <<<"$listed")
    [ "$kept" = 3 ] && pass "the 3 machines added before the upgrade are listed" || fail "machines kept" "$listed"
    console=$(ip netns exec "$BOOT_NS" curl -s -m 5 "http://127.0.0.1:8081/ui/js/console.js" || true)
    grep -q "liveEvents" <<<"$console" && pass "the web console is served from /usr/share/vboot/ui at /ui/ on the API listener" ||
        fail "the web console at http://127.0.0.1:8081/ui/" "${console:0:200}"
    RUNS_AS_UID=$uid runs_unprivileged "$VBOOT_PID" || fail "the upgraded vboot runs unprivileged" "$(credentials "$VBOOT_PID")"
    rig_guest uefi "$MAC" uefi default
    if wait_for "$RIG_DIR/uefi.serial" "vboot-package per-mac script $MAC" 240; then
        pass "OVMF → proxyDHCP → TFTP $IPXE_OUT/ipxe.efi → per-MAC script, through the package"
    else
        fail "the OVMF guest reaches its per-MAC script" "" "$RIG_DIR/uefi.serial"
        tail -n 20 "$RIG_DIR/new.log" | sed 's/^/        /'
    fi
    rig_stop_guest uefi
    stop_unit
else
    fail "the upgraded vboot starts" "" "$RIG_DIR/new.log"
fi

echo "== apt remove, then apt purge"
apt_in_root remove vboot >>"$RIG_DIR/apt.log" 2>&1 || fail "apt remove vboot" "" "$RIG_DIR/apt.log"
[ ! -e "$TARGET/usr/bin/vboot" ] && [ -f "$TARGET/etc/vboot/vboot.yaml" ] && [ -f "$TARGET/var/lib/vboot/vboot.sqlite" ] &&
    pass "remove: the binary goes, the config and the inventory stay" || fail "remove keeps config and inventory"
apt_in_root purge vboot >"$RIG_DIR/purge.log" 2>&1 || fail "apt purge vboot" "" "$RIG_DIR/purge.log"
[ ! -e "$TARGET/etc/vboot/vboot.yaml" ] && pass "purge: /etc/vboot/vboot.yaml goes" || fail "purge removes the config"
[ -f "$TARGET/var/lib/vboot/vboot.sqlite" ] && grep -q "kept /var/lib/vboot" "$RIG_DIR/purge.log" &&
    pass "purge: the inventory stays, and apt's output says so" || fail "purge keeps the inventory and says so" "" "$RIG_DIR/purge.log"

finish
