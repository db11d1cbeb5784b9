#!/usr/bin/env bash
# Privileges end to end: `vboot serve` started as root serves the LAN as the vboot user, and the
# shipped systemd unit's way (User=vboot, AmbientCapabilities=CAP_NET_BIND_SERVICE,
# NoNewPrivileges) binds the privileged ports without root. Real processes in a network
# namespace of their own (loopback only): proxyDHCP on 67/4011, TFTP on 69, HTTP on 80.
#
#   Tests/e2e/privileges.sh        (root; the vboot user must exist: scripts/test creates it)
#
# Environment: VBOOT=PATH (default .build/debug/vboot, relative to the repo root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
UNIT=$ROOT/packaging/vboot.service
# shellcheck source=lib/privileges.sh
. "$HERE/lib/privileges.sh"

# shellcheck source=lib/report.sh
. "$HERE/lib/report.sh"
PIDS=()
NS=vbpriv$$
WORK=

# shellcheck source=lib/processes.sh
. "$HERE/lib/processes.sh"
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    ip netns del "$NS" 2>/dev/null || true
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$FAILED" -gt 0 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    fi
}
trap cleanup EXIT
trap 'echo "privileges: interrupted" >&2; exit 130' INT TERM

[ "$(id -u)" = 0 ] || early_fail "needs root (network namespace, starting vboot as root)"
id vboot >/dev/null 2>&1 || early_fail "no vboot user (useradd --system --user-group vboot; scripts/test makes it)"
for cmd in curl tftp setpriv systemd-analyze ip timeout; do
    command -v "$cmd" >/dev/null || early_fail "missing command: $cmd"
done
[ -x "$VBOOT" ] || early_fail "vboot binary not found at $VBOOT"
[ -f /usr/lib/ipxe/ipxe.efi ] || early_fail "missing /usr/lib/ipxe/ipxe.efi (apt-get install ipxe)"
[ -f "$UNIT" ] || early_fail "missing $UNIT"

WORK=$(mktemp -d /tmp/vboot-privileges.XXXXXX)
chmod 755 "$WORK"
cp -r "$ROOT/boot-scripts" "$WORK/boot-scripts"
ip netns add "$NS" || early_fail "ip netns add $NS"
ip -n "$NS" link set lo up

in_ns() { ip netns exec "$NS" "$@"; }

# start NAME [PREFIX...] -- [ARGS...]: vboot serve in the namespace (PREFIX: e.g. setpriv ...),
# waits for /health on HTTP_PORT; sets PID. Returns 1 if it did not come up within 20 s.
HTTP_PORT=80
start() {
    local name=$1 i
    shift
    local prefix=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do prefix+=("$1"); shift; done
    shift
    # Not through in_ns: a backgrounded function is a subshell, and $! would be its PID.
    ip netns exec "$NS" "${prefix[@]}" "$VBOOT" serve --listen 127.0.0.1 --boot-scripts "$WORK/boot-scripts" \
        --ipxe-dir /usr/lib/ipxe "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.log" &
    PID=$!
    PIDS+=("$PID")
    for ((i = 0; i < 40; i++)); do
        alive "$PID" || return 1
        in_ns curl -s -m 1 -o /dev/null "http://127.0.0.1:$HTTP_PORT/health" && return 0
        sleep 0.5
    done
    return 1
}

# tftp_fetch: ipxe.efi over TFTP port 69 equals Debian's file.
tftp_fetch() {
    rm -f "$WORK/got.efi"
    (cd "$WORK" && in_ns timeout 20 tftp 127.0.0.1 69 -m binary -c get ipxe.efi got.efi) >/dev/null 2>&1
    cmp -s "$WORK/got.efi" /usr/lib/ipxe/ipxe.efi
}

VBOOT_UID=$(id -u vboot)

echo "== 1. started as root: binds 67, 69, 80 and 4011, then serves as the vboot user"
mkdir -p "$WORK/root-data"
# A symlink planted in the data directory must not make vboot hand its target to the vboot user.
echo secret >"$WORK/root-owned" && chmod 600 "$WORK/root-owned"
ln -s "$WORK/root-owned" "$WORK/root-data/planted"
# ... nor a hard link (one the vboot user could have made to a file it can read).
echo secret >"$WORK/root-linked" && chmod 600 "$WORK/root-linked"
ln "$WORK/root-linked" "$WORK/root-data/linked"
# The admin's token file, readable by root only (as /etc/vboot/api-token would be).
TOKEN=0123456789abcdef0123456789abcdef
install -m 600 /dev/null "$WORK/admin-token" && echo "$TOKEN" >"$WORK/admin-token"
if start root -- --dhcp proxy --http-port 80 --data-dir "$WORK/root-data" --api-token-file "$WORK/admin-token"; then
    pass "vboot serve started as root answers /health on port 80"
    if runs_unprivileged "$PID" 400; then
        pass "every thread runs as uid $VBOOT_UID with no-new-privileges and CAP_NET_BIND_SERVICE at most"
    else
        fail "every thread runs as the vboot user" "$(credentials "$PID")"
    fi
    caps=$(awk '/^CapEff:/ {print $2}' "/proc/$PID/status")
    [ "$caps" = 0000000000000400 ] && pass "the capability kept is CAP_NET_BIND_SERVICE alone" ||
        fail "the capability kept is CAP_NET_BIND_SERVICE alone" "CapEff $caps"
    tftp_fetch && pass "TFTP on port 69 serves ipxe.efi" || fail "TFTP on port 69 serves ipxe.efi" "" "$WORK/root.log"
    in_ns ss -Hulpn 2>/dev/null | grep -q ":67 .*pid=$PID," && in_ns ss -Hulpn | grep -q ":4011 .*pid=$PID," &&
        pass "proxyDHCP holds UDP 67 and 4011" || fail "proxyDHCP holds UDP 67 and 4011" "$(in_ns ss -Hulpn)"
    owners=$(stat -c '%U %a' "$WORK/root-data" "$WORK/root-data"/vboot.sqlite 2>&1 | paste -sd ' ')
    [ "$owners" = "vboot 700 vboot 600" ] &&
        pass "the data directory (0700) and the inventory (0600) belong to the vboot user" ||
        fail "the data directory and the inventory belong to the vboot user" "$owners"
    [ "$(stat -c %U "$WORK/root-owned")" = root ] &&
        pass "a symlink planted in the data directory did not hand over its target" ||
        fail "a planted symlink's target stays root's" "$(stat -c '%U %n' "$WORK/root-owned")"
    [ "$(stat -c %U "$WORK/root-linked")" = root ] &&
        pass "a hard link planted in the data directory did not hand over its file" ||
        fail "a planted hard link's file stays root's" "$(stat -c '%U %n' "$WORK/root-linked")"
    api=$(in_ns curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        -X POST -d '{"mac": "52:54:00:00:00:01"}' "http://127.0.0.1:8081/api/v1/machines")
    [ "$api" = 201 ] && [ "$(stat -c '%U %a' "$WORK/admin-token")" = "root 600" ] &&
        pass "the token from a root-only file works after the switch, and the file stays root's" ||
        fail "the token from a root-only file works after the switch" "POST /machines: $api; $(stat -c '%U %a' "$WORK/admin-token")" "$WORK/root.log"
    grep -q 'privileges: running as uid '"$VBOOT_UID" "$WORK/root.log" &&
        pass "the log says who vboot runs as" || fail "the log says who vboot runs as" "" "$WORK/root.log"
    stop_pid "$PID"
else
    fail "vboot serve started as root answers /health on port 80" "" "$WORK/root.log"
fi

echo "== 2. high ports only: no capability at all"
HTTP_PORT=18080
if start high -- --dhcp off --http-port 18080 --tftp-port 18069 --data-dir "$WORK/high-data"; then
    runs_unprivileged "$PID" 0 && pass "ports above 1023: uid $VBOOT_UID and no capabilities" ||
        fail "ports above 1023: no capabilities" "$(credentials "$PID")"
    owners=$(stat -c '%U %a' "$WORK/high-data/api-token" 2>&1)
    [ "$owners" = "vboot 600" ] && pass "a token generated in the data directory belongs to the vboot user (0600)" ||
        fail "a generated token belongs to the vboot user" "$owners"
    stop_pid "$PID"
else
    fail "vboot serve --dhcp off on high ports starts" "" "$WORK/high.log"
fi

echo "== 3. accounts that are refused or kept"
out=$(in_ns timeout 20 "$VBOOT" serve --listen 127.0.0.1 --dhcp off --http-port 18081 --tftp-port 18070 \
    --boot-scripts "$WORK/boot-scripts" --data-dir "$WORK/nouser-data" --user no-such-user-here 2>&1)
rc=$?
[ "$rc" != 0 ] && grep -q 'no-such-user-here: no such user' <<<"$out" &&
    pass "--user with an unknown account fails at start, naming it" ||
    fail "--user with an unknown account fails at start" "rc $rc: $(tail -n 2 <<<"$out")"
out=$(in_ns timeout 20 setpriv --reuid vboot --regid vboot --init-groups "$VBOOT" serve --listen 127.0.0.1 \
    --dhcp off --http-port 18082 --tftp-port 18071 --boot-scripts "$WORK/boot-scripts" \
    --data-dir "$WORK/nouser-data" --user root 2>&1)
rc=$?
[ "$rc" != 0 ] && grep -q 'needs vboot to start as root' <<<"$out" &&
    pass "--user root from an unprivileged start is refused" ||
    fail "--user root from an unprivileged start is refused" "rc $rc: $(tail -n 2 <<<"$out")"
HTTP_PORT=18083
if start keeproot -- --dhcp off --http-port 18083 --tftp-port 18072 --data-dir "$WORK/keeproot-data" --user root; then
    uid=$(awk '/^Uid:/ {print $3}' "/proc/$PID/status")
    [ "$uid" = 0 ] && grep -q 'running as root after binding (--user root)' "$WORK/keeproot.log" &&
        pass "--user root keeps root and warns" || fail "--user root keeps root and warns" "uid $uid" "$WORK/keeproot.log"
    stop_pid "$PID"
else
    fail "--user root starts" "" "$WORK/keeproot.log"
fi

echo "== 4. as packaging/vboot.service starts it: User=, AmbientCapabilities=, NoNewPrivileges="
unit_user=$(sed -n 's/^User=//p' "$UNIT")
unit_caps=$(sed -n 's/^AmbientCapabilities=//p' "$UNIT")
unit_bound=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[ "$unit_user" = vboot ] && [ "$unit_caps" = CAP_NET_BIND_SERVICE ] && [ "$unit_bound" = CAP_NET_BIND_SERVICE ] &&
    grep -q '^NoNewPrivileges=yes' "$UNIT" && grep -q '^StateDirectory=vboot' "$UNIT" &&
    pass "the unit: User=vboot, only CAP_NET_BIND_SERVICE, NoNewPrivileges, StateDirectory" ||
    fail "the unit's privileges" "User=$unit_user AmbientCapabilities=$unit_caps CapabilityBoundingSet=$unit_bound"
# systemd makes StateDirectory= owned by User= with StateDirectoryMode=.
install -d -m 700 -o vboot -g vboot "$WORK/state"
cap=${unit_caps#CAP_}
cap=${cap,,}
HTTP_PORT=80
if start unit setpriv --reuid "$unit_user" --regid "$unit_user" --init-groups --inh-caps "+$cap" \
    --ambient-caps "+$cap" --bounding-set "-all,+$cap" --no-new-privs -- --dhcp proxy --http-port 80 \
    --data-dir "$WORK/state"; then
    pass "started as the unit starts it, vboot binds 67, 69, 80 and 4011"
    runs_unprivileged "$PID" 400 && pass "the unit's process: uid $VBOOT_UID, CAP_NET_BIND_SERVICE at most" ||
        fail "the unit's process is unprivileged" "$(credentials "$PID")"
    tftp_fetch && pass "the unit's process serves TFTP on port 69" ||
        fail "the unit's process serves TFTP on port 69" "" "$WORK/unit.log"
    stop_pid "$PID"
else
    fail "started as the unit starts it, vboot binds its ports" "" "$WORK/unit.log"
fi
out=$(in_ns timeout 20 setpriv --reuid vboot --regid vboot --init-groups --no-new-privs "$VBOOT" serve \
    --listen 127.0.0.1 --dhcp off --http-port 18084 --tftp-port 69 --boot-scripts "$WORK/boot-scripts" \
    --data-dir "$WORK/state" 2>&1)
rc=$?
[ "$rc" != 0 ] && grep -q 'ports below 1024 need root or CAP_NET_BIND_SERVICE' <<<"$out" &&
    pass "without the capability, port 69 fails at start saying what is missing" ||
    fail "without the capability, port 69 fails saying what is missing" "rc $rc: $(grep -v ServiceLifecycle <<<"$out" | tail -n 2)"
sed "s#^ExecStart=/usr/local/bin/vboot #ExecStart=$VBOOT #" "$UNIT" >"$WORK/vboot.service"
if out=$(systemd-analyze verify "$WORK/vboot.service" 2>&1) && [ -z "$out" ]; then
    pass "systemd-analyze verify accepts the unit"
else
    fail "systemd-analyze verify accepts the unit" "$out"
fi

finish
