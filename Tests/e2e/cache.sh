#!/usr/bin/env bash
# The upstream asset cache against a real HTTPS mirror: nginx (Debian's nginx-light) in its own
# network namespace with a test CA, serving a copy of Debian's netboot files
# (debian-installer-12-netboot-amd64); vboot in another with --upstream and --cache-ca-bundle;
# curl clients and an OVMF guest on the same segment (the e2e rig, Tests/e2e/lib/rig.sh).
#
#   storm       100 clients at once for the uncached initrd: exactly one upstream request (nginx's
#               access log), every client's bytes right; then the same 100 from the cache, and from
#               a local copy. Prints the times: one client straight from the mirror, the
#               first-fetch storm, the cached one, the local one
#   range       a Range inside the part of a file still arriving (nginx limit_rate) is answered
#               before the file is whole, one beyond it when its bytes come; one upstream request
#   corrupt     a mirror file that does not match its pinned SHA-256, or the digest the mirror's
#               SHA256SUMS gives: no client gets it whole, it is not cached, the failure is counted
#   kill        vboot killed (SIGKILL) in the middle of a fetch: after a restart no partial file
#               is left or served, and the next request fetches it again
#   boot        an OVMF guest boots the Debian installer through the cache from a profile that
#               names its own upstream and checksum list (#: upstream, #: checksums), added with
#               vboot machines add
#   directory   a path the mirror redirects to a directory listing (chunked): refused, not cached
#   revalidate  --cache-max-age 0: an unchanged file is one 304 from nginx; a changed one refetched
#   assets      vboot assets fetch (owned by the server's user, then served; over TFTP too), list,
#               verify (a byte changed on disk: found, removed, exit 1), prune (--orphans)
#   mirror down the mirror stopped: cached files keep coming (one past its max age too, its copy
#               served), a miss is a 502 with the reason
#   offline     --cache-mode offline: cached files served, a miss is a 502 that says so
#
# Environment: VBOOT (binary, default .build/debug/vboot), E2E_KEEP=1 keeps the work directory.
# Needs root. The last line is "N passed, N failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VBOOT=${VBOOT:-.build/debug/vboot}
[[ $VBOOT == /* ]] || VBOOT=$ROOT/$VBOOT
DI=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
NETBOOT=netboot/debian-installer/amd64
HTTP_PORT=8080
GUEST_MAC=52:54:00:e2:c0:01

passed=0 failed=0
pass() { echo "PASS  $1${2:+  ($2)}"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1${2:+  ($2)}"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; exit $((failed > 0)); }

[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; echo "0 passed, 1 failed"; exit 1; }
for need in "$VBOOT" /usr/sbin/nginx "$DI/initrd.gz" "$DI/linux" /usr/bin/tftp; do
    [ -e "$need" ] || { echo "missing $need (apt install nginx-light debian-installer-12-netboot-amd64 tftp-hpa)"; echo "0 passed, 1 failed"; exit 1; }
done

WORK=$(mktemp -d /tmp/vboot-cache-e2e.XXXXXX)
chmod 755 "$WORK"
RIG=vc$(printf '%x' $$)
RIG_DIR=$WORK
# shellcheck source=SCRIPTDIR/lib/rig.sh
. "$HERE/lib/rig.sh"
MIRROR_IP=${RIG_NET}.4
CLIENT_IP=${RIG_NET}.5
cleanup() {
    rig_down
    if [ "${E2E_KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- the mirror: a test CA, nginx over HTTPS with a copy of the netboot files ---------------------
mkdir -p "$WORK/ca" "$WORK/www/debian/$NETBOOT" "$WORK/www/slow/$NETBOOT" "$WORK/www/bad/$NETBOOT"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=vboot e2e test CA" \
    -keyout "$WORK/ca/ca.key" -out "$WORK/ca/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$MIRROR_IP" -keyout "$WORK/ca/mirror.key" \
    -out "$WORK/ca/mirror.csr" 2>/dev/null
printf 'subjectAltName=IP:%s\n' "$MIRROR_IP" >"$WORK/ca/san.ext"
openssl x509 -req -in "$WORK/ca/mirror.csr" -CA "$WORK/ca/ca.pem" -CAkey "$WORK/ca/ca.key" -CAcreateserial \
    -days 2 -extfile "$WORK/ca/san.ext" -out "$WORK/ca/mirror.pem" 2>/dev/null
cp "$DI/initrd.gz" "$DI/linux" "$WORK/www/debian/$NETBOOT/"
cp "$DI/linux" "$WORK/www/slow/$NETBOOT/linux"
cp "$DI/linux" "$WORK/www/slow/$NETBOOT/linux.copy"
# A mirror gone wrong: the initrd with one byte changed in its middle.
cp "$DI/initrd.gz" "$WORK/www/bad/$NETBOOT/initrd.gz"
printf '\xff' | dd of="$WORK/www/bad/$NETBOOT/initrd.gz" bs=1 seek=20000000 conv=notrunc status=none
cp "$WORK/www/bad/$NETBOOT/initrd.gz" "$WORK/www/bad/$NETBOOT/initrd.listed"
# Checksum lists as Debian publishes them (images/SHA256SUMS naming ./netboot/...): the good
# mirror's, and the bad one's, which vouches for the genuine initrd under the corrupt copy's name.
(cd "$WORK/www/debian" && sha256sum "./$NETBOOT/linux" "./$NETBOOT/initrd.gz" >SHA256SUMS)
printf '%s  ./%s/initrd.listed\n' "$(sha256sum <"$DI/initrd.gz" | cut -d' ' -f1)" "$NETBOOT" >"$WORK/www/bad/SHA256SUMS"
chmod -R o+rX "$WORK/www" "$WORK/ca"
INITRD_SHA=$(sha256sum <"$DI/initrd.gz" | cut -d' ' -f1)
LINUX_SHA=$(sha256sum <"$DI/linux" | cut -d' ' -f1)
INITRD_SIZE=$(stat -c %s "$DI/initrd.gz")
cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 256; }
http {
    access_log $WORK/access.log;
    sendfile on;
    server {
        listen $MIRROR_IP:443 ssl http2;
        ssl_certificate $WORK/ca/mirror.pem;
        ssl_certificate_key $WORK/ca/mirror.key;
        root $WORK/www;
        # A slow mirror, so a file is still arriving while clients ask for parts of it.
        location /slow/ { limit_rate 2m; }
        # A directory: the listing nginx sends is chunked, without a length.
        location /debian/ { autoindex on; }
    }
}
EOF

rig_up
rig_site_dhcp
rig_host mirror "$MIRROR_IP"
rig_host client "$CLIENT_IP"
# A storm's clients are machines of their own: one address each (vboot limits connections per
# address), .151 to .250, beside the site's DHCP range.
for ((i = 151; i <= 250; i++)); do ip -n "$(rig_ns client)" addr add "${RIG_NET}.$i/24" dev eth0; done
start_nginx() {
    ip netns exec "$(rig_ns mirror)" /usr/sbin/nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" &
    NGINX_PID=$!
    RIG_PIDS+=("$NGINX_PID")
    local i
    for ((i = 0; i < 40; i++)); do
        ip netns exec "$(rig_ns client)" curl -s -o /dev/null --cacert "$WORK/ca/ca.pem" "https://$MIRROR_IP/" && return 0
        sleep 0.25
    done
    echo "nginx did not start: $(tail -n 3 "$WORK/nginx-error.log")"; echo "0 passed, 1 failed"; exit 1
}
start_nginx
# Requests from vboot for a path (nginx's combined log: address first).
upstream_requests() { grep -c "^$BOOT_IP .*\"GET $1 " "$WORK/access.log" || true; }

# --- vboot ----------------------------------------------------------------------------------------
mkdir -p "$WORK/boot-scripts/machines" "$WORK/boot-scripts/profiles" "$WORK/assets" "$WORK/data"
cp "$ROOT/boot-scripts/default.ipxe" "$WORK/boot-scripts/"
# The guest boots a profile that names its own upstream: nothing configured, nothing copied.
cat >"$WORK/boot-scripts/profiles/cached-installer.profile" <<EOF
#: title the Debian installer through vboot's cache
#: upstream installer = https://$MIRROR_IP/debian/$NETBOOT
#: checksums installer = https://$MIRROR_IP/debian/SHA256SUMS
#: kernel {{assets}}/installer/linux
#: initrd {{assets}}/installer/initrd.gz
#: args console=ttyS0,115200n8 ---
EOF
chmod -R o+rX "$WORK/boot-scripts" "$WORK/assets"
start_vboot() {
    ip netns exec "$(rig_ns boot)" "$VBOOT" serve --listen "$BOOT_IP" --interface eth0 --dhcp proxy \
        --http-port "$HTTP_PORT" --boot-scripts "$WORK/boot-scripts" --assets "$WORK/assets" --data-dir "$WORK/data" \
        --upstream "debian=https://$MIRROR_IP/debian" --upstream "slow=https://$MIRROR_IP/slow" \
        --upstream "bad=https://$MIRROR_IP/bad" --cache-ca-bundle "$WORK/ca/ca.pem" \
        --cache-sha256 "debian/$NETBOOT/initrd.gz=$INITRD_SHA" --cache-sha256 "debian/$NETBOOT/linux=$LINUX_SHA" \
        --cache-sha256 "bad/$NETBOOT/initrd.gz=$INITRD_SHA" --cache-checksums "bad=https://$MIRROR_IP/bad/SHA256SUMS" \
        "${VBOOT_EXTRA[@]}" >>"$WORK/vboot.stdout" 2>>"$WORK/vboot.log" &
    VBOOT_PID=$!
    RIG_PIDS+=("$VBOOT_PID")
    local i
    for ((i = 0; i < 60; i++)); do
        rig_alive "$VBOOT_PID" || { echo "vboot exited: $(tail -n 3 "$WORK/vboot.log")"; echo "0 passed, 1 failed"; exit 1; }
        client curl -s -m 2 -o /dev/null "http://$BOOT_IP:$HTTP_PORT/health" 2>/dev/null && return 0
        sleep 0.5
    done
    echo "vboot did not answer"; echo "0 passed, 1 failed"; exit 1
}
VBOOT_EXTRA=()
restart_vboot() { # restart_vboot ARGS...: the same server with ARGS added
    kill "$VBOOT_PID"
    wait "$VBOOT_PID" 2>/dev/null || true
    VBOOT_EXTRA=("$@")
    start_vboot
}
# `vboot assets` as an admin runs it on the server, with the server's cache settings.
assets() {
    ip netns exec "$(rig_ns boot)" "$VBOOT" assets "$@" --data-dir "$WORK/data" --boot-scripts "$WORK/boot-scripts" \
        --upstream "debian=https://$MIRROR_IP/debian" --cache-ca-bundle "$WORK/ca/ca.pem" \
        --cache-sha256 "debian/$NETBOOT/initrd.gz=$INITRD_SHA"
}
client() { ip netns exec "$(rig_ns client)" "$@"; }
VB=http://$BOOT_IP:$HTTP_PORT/assets
metric() {
    ip netns exec "$(rig_ns boot)" curl -s -H "Authorization: Bearer $(cat "$WORK/data/api-token")" \
        http://127.0.0.1:8081/metrics | awk -v name="vboot_$1_total" '$1 == name { print $2 }'
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
start_vboot

# --- storm ----------------------------------------------------------------------------------------
# One client straight from the mirror (the upstream download a first fetch cannot beat).
t0=$(now)
client curl -s -o "$WORK/direct" --cacert "$WORK/ca/ca.pem" "https://$MIRROR_IP/debian/$NETBOOT/initrd.gz"
upstream_single=$(since "$t0")
storm() { # storm DIR [PATH]: 100 clients at once for the initrd (or PATH under /assets), each client's file in DIR
    mkdir -p "$1"
    local i pids=()
    for ((i = 0; i < 100; i++)); do
        client curl -s -m 120 --interface "${RIG_NET}.$((151 + i))" -o "$1/$i" -w '%{http_code}\n' \
            "$VB/${2:-debian/$NETBOOT/initrd.gz}" >"$1/$i.code" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
}
intact() { # intact DIR: how many of the 100 have the initrd's bytes
    local n=0 i
    for ((i = 0; i < 100; i++)); do
        [ "$(sha256sum <"$1/$i" 2>/dev/null | cut -d' ' -f1)" = "$INITRD_SHA" ] && n=$((n + 1))
    done
    echo "$n"
}
t0=$(now)
storm "$WORK/storm1"
first_storm=$(since "$t0")
t0=$(now)
storm "$WORK/storm2"
cached_storm=$(since "$t0")
# The same file as a local asset: a cached file goes out by the same sendfile path.
mkdir -p "$WORK/assets/local"
cp "$DI/initrd.gz" "$WORK/assets/local/initrd.gz"
chmod -R o+rX "$WORK/assets"
t0=$(now)
storm "$WORK/storm3" local/initrd.gz
local_storm=$(since "$t0")
ok1=$(intact "$WORK/storm1") ok2=$(intact "$WORK/storm2") requests=$(upstream_requests "/debian/$NETBOOT/initrd.gz")
ok3=$(intact "$WORK/storm3")
[ "$ok3" = 100 ] &&
    pass "storm: the same 100 for a local copy in ${local_storm} s (cached ${cached_storm} s: $(awk -v c="$cached_storm" -v l="$local_storm" 'BEGIN { printf "%.2f", c / l }')x of local)" ||
    fail "storm: local copy" "intact $ok3"
ratio=$(awk -v f="$first_storm" -v u="$upstream_single" -v c="$cached_storm" 'BEGIN { printf "%.2f", f / (u + c) }')
times="one client from the mirror ${upstream_single} s, first-fetch storm ${first_storm} s, cached storm ${cached_storm} s: ${ratio}x"
[ "$ok1" = 100 ] && [ "$ok2" = 100 ] && [ "$requests" = 1 ] &&
    pass "storm: 100 clients, one upstream request, 100 + 100 intact" "$times" ||
    fail "storm: 100 clients, one upstream request, 100 + 100 intact" "intact $ok1 + $ok2, upstream requests $requests; $times"
[ "$(metric cache_misses)" = 1 ] && [ "$(metric cache_coalesced_waiters)" -ge 1 ] &&
    pass "storm: /metrics: 1 miss, $(metric cache_coalesced_waiters) coalesced, $(metric cache_hits) hits" ||
    fail "storm: /metrics counts" "misses $(metric cache_misses), coalesced $(metric cache_coalesced_waiters)"

# --- range ----------------------------------------------------------------------------------------
# The first client starts the slow fetch (2 MiB/s: ~4 s for the kernel); a Range inside what has
# arrived comes back while the file is still arriving, one near the end once its bytes do.
LINUX_SIZE=$(stat -c %s "$DI/linux")
client curl -s -m 60 -o "$WORK/slow-whole" "$VB/slow/$NETBOOT/linux" &
whole_pid=$!
sleep 0.7
t0=$(now)
client curl -s -m 60 -r 100000-199999 -o "$WORK/slow-early" "$VB/slow/$NETBOOT/linux"
early=$(since "$t0")
still_arriving=$(ls "$WORK/data/cache/.partial" | wc -l)
client curl -s -m 60 -r $((LINUX_SIZE - 1000))- -o "$WORK/slow-late" "$VB/slow/$NETBOOT/linux"
wait "$whole_pid" || true
expect_early=$(dd if="$DI/linux" bs=100000 skip=1 count=1 status=none | sha256sum | cut -d' ' -f1)
expect_late=$(tail -c 1000 "$DI/linux" | sha256sum | cut -d' ' -f1)
[ "$(sha256sum <"$WORK/slow-early" | cut -d' ' -f1)" = "$expect_early" ] && [ "$still_arriving" = 1 ] &&
    [ "$(sha256sum <"$WORK/slow-late" | cut -d' ' -f1)" = "$expect_late" ] &&
    [ "$(sha256sum <"$WORK/slow-whole" | cut -d' ' -f1)" = "$LINUX_SHA" ] &&
    [ "$(upstream_requests "/slow/$NETBOOT/linux")" = 1 ] &&
    pass "range: inside the part arrived (in ${early} s, the file still arriving), and beyond it; one upstream request" ||
    fail "range" "early ${early} s, partial files then $still_arriving, upstream requests $(upstream_requests "/slow/$NETBOOT/linux")"

# --- corrupt --------------------------------------------------------------------------------------
code=$(client curl -s -m 60 -o "$WORK/bad" -w '%{http_code}' "$VB/bad/$NETBOOT/initrd.gz" || true)
[ "$(sha256sum <"$WORK/bad" | cut -d' ' -f1)" != "$INITRD_SHA" ] && [ "$(stat -c %s "$WORK/bad")" -lt "$INITRD_SIZE" ] &&
    [ ! -e "$WORK/data/cache/bad/$NETBOOT/initrd.gz" ] && [ "$(metric cache_verification_failures)" = 1 ] &&
    grep -q "is not the pinned $INITRD_SHA; refused" "$WORK/vboot.log" &&
    pass "corrupt: refused (the client got $(stat -c %s "$WORK/bad") of $INITRD_SIZE bytes, HTTP $code), not cached, counted" ||
    fail "corrupt" "got $(stat -c %s "$WORK/bad") bytes, HTTP $code, verification failures $(metric cache_verification_failures)"
# The same corruption caught by the upstream's checksum list instead of a pin.
client curl -s -m 60 -o /dev/null "$VB/bad/$NETBOOT/initrd.listed" || true
listed=$(client curl -s -m 60 -w ' %{http_code}' "$VB/bad/$NETBOOT/initrd.listed" | tr -d '\n' || true)
[[ $listed == *"from https://$MIRROR_IP/bad/SHA256SUMS; refused"*" 502" ]] &&
    [ ! -e "$WORK/data/cache/bad/$NETBOOT/initrd.listed" ] && [ "$(metric cache_verification_failures)" = 2 ] &&
    [ "$(upstream_requests "/bad/SHA256SUMS")" = 1 ] &&
    pass "corrupt: refused by the upstream's SHA256SUMS (502 with the reason), not cached, counted" ||
    fail "corrupt: checksum list" "answer '${listed:0:300}', verification failures $(metric cache_verification_failures), list requests $(upstream_requests "/bad/SHA256SUMS")"

# --- kill -----------------------------------------------------------------------------------------
client curl -s -m 60 -o /dev/null "$VB/slow/$NETBOOT/linux.copy" &
partial_before=0
for ((i = 0; i < 40; i++)); do
    partial_before=$(ls "$WORK/data/cache/.partial" | wc -l)
    [ "$partial_before" = 0 ] || break
    sleep 0.1
done
kill -KILL "$VBOOT_PID"
wait "$VBOOT_PID" 2>/dev/null || true
start_vboot
partial_after=$(ls "$WORK/data/cache/.partial" | wc -l)
client curl -s -m 60 -o "$WORK/linux-after" "$VB/slow/$NETBOOT/linux.copy"
[ "$partial_before" = 1 ] && [ "$partial_after" = 0 ] &&
    [ "$(sha256sum <"$WORK/linux-after" | cut -d' ' -f1)" = "$LINUX_SHA" ] &&
    [ "$(upstream_requests "/slow/$NETBOOT/linux.copy")" = 2 ] &&
    pass "kill: kill -9 mid-fetch leaves a partial file, removed at the restart; the next request fetches it again" ||
    fail "kill" "partial files $partial_before then $partial_after, upstream requests $(upstream_requests "/slow/$NETBOOT/linux.copy")"

# --- boot -----------------------------------------------------------------------------------------
ip netns exec "$(rig_ns boot)" "$VBOOT" machines add "$GUEST_MAC" --profile cached-installer \
    --token-file "$WORK/data/api-token" >/dev/null
rig_guest g1 "$GUEST_MAC" uefi default
if wait_for "$WORK/g1.serial" "Select a language" 240; then
    pass "boot: OVMF -> iPXE -> a profile naming its upstream -> the Debian installer through the cache"
else
    fail "boot: OVMF -> the installer from the cache" "serial: $(rig_plain "$WORK/g1.serial" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
fi
rig_stop_guest g1 2>/dev/null || true
# The profile's upstream is a cache entry of its own: one more request each, none per client after;
# both checked against the profile's SHA256SUMS, read once.
[ "$(upstream_requests "/debian/$NETBOOT/linux")" = 1 ] && [ "$(upstream_requests "/debian/$NETBOOT/initrd.gz")" = 2 ] &&
    [ -f "$WORK/data/cache/installer/initrd.gz" ] && [ "$(upstream_requests "/debian/SHA256SUMS")" = 1 ] &&
    pass "boot: kernel and initrd fetched once for the profile's upstream (cache/installer/), checked against its SHA256SUMS" ||
    fail "boot: upstream requests" "linux $(upstream_requests "/debian/$NETBOOT/linux"), initrd $(upstream_requests "/debian/$NETBOOT/initrd.gz"), list $(upstream_requests "/debian/SHA256SUMS")"

# --- a directory -----------------------------------------------------------------------------------
# /assets/debian/netboot: the mirror redirects to netboot/ and sends its listing (chunked, no
# length). Refused as not a file; vboot stays up and the files below it still come.
dir=$(client curl -s -m 30 -w ' %{http_code}' "$VB/debian/netboot" | tr -d '\n' || true)
after=$(client curl -s -m 30 -o /dev/null -w '%{http_code}' "$VB/debian/$NETBOOT/linux" || true)
[[ $dir == *"a directory on the upstream"*" 502" ]] && rig_alive "$VBOOT_PID" && [ "$after" = 200 ] &&
    [ ! -f "$WORK/data/cache/debian/netboot" ] &&
    pass "directory: a redirect to a listing is refused (502), not cached, vboot still serving" ||
    fail "directory" "answer: $dir; then linux: HTTP $after; vboot alive: $(rig_alive "$VBOOT_PID" && echo yes || echo no)"

# --- revalidate -----------------------------------------------------------------------------------
# Past --cache-max-age (0 here) an unpinned file is asked about: nginx's 304 keeps the copy; a
# changed file replaces it.
printf 'first\n' >"$WORK/www/debian/$NETBOOT/notes.txt"
chmod o+r "$WORK/www/debian/$NETBOOT/notes.txt"
restart_vboot --cache-max-age 0
v1=$(client curl -s -m 30 "$VB/debian/$NETBOOT/notes.txt" || true)
v1again=$(client curl -s -m 30 "$VB/debian/$NETBOOT/notes.txt" || true)
not_modified=$(grep -c "\"GET /debian/$NETBOOT/notes.txt HTTP/[0-9.]*\" 304 " "$WORK/access.log" || true)
sleep 1.1
printf 'second\n' >"$WORK/www/debian/$NETBOOT/notes.txt"
v2=$(client curl -s -m 30 "$VB/debian/$NETBOOT/notes.txt" || true)
[ "$v1" = first ] && [ "$v1again" = first ] && [ "$not_modified" = 1 ] && [ "$(metric cache_not_modified)" = 1 ] &&
    [ "$v2" = second ] && [ "$(cat "$WORK/data/cache/debian/$NETBOOT/notes.txt")" = second ] &&
    pass "revalidate: an unchanged file is a 304 from nginx and served from the cache; a changed one is fetched" ||
    fail "revalidate" "first '$v1', again '$v1again' (304s: $not_modified, metric $(metric cache_not_modified)), changed '$v2'"

# --- vboot assets ---------------------------------------------------------------------------------
restart_vboot
head -c 1500000 /dev/urandom >"$WORK/www/debian/$NETBOOT/extra.img"
chmod o+r "$WORK/www/debian/$NETBOOT/extra.img"
EXTRA_SHA=$(sha256sum <"$WORK/www/debian/$NETBOOT/extra.img" | cut -d' ' -f1)
fetched=$(assets fetch "debian/$NETBOOT/extra.img" 2>&1)
owner=$(stat -c %U "$WORK/data/cache/debian/$NETBOOT/extra.img" 2>/dev/null || true)
served=$(client curl -s -m 30 "$VB/debian/$NETBOOT/extra.img" | sha256sum | cut -d' ' -f1)
again=$(assets fetch "debian/$NETBOOT/extra.img" 2>&1)
[[ $fetched == *"debian/$NETBOOT/extra.img: fetched, 1.4 MiB"* ]] && [[ $again == *": cached, 1.4 MiB"* ]] &&
    [ "$served" = "$EXTRA_SHA" ] && [ "$(upstream_requests "/debian/$NETBOOT/extra.img")" = 1 ] && [ "$owner" = vboot ] &&
    pass "assets fetch: into the cache before any client (owned by vboot), then served from it; a second fetch finds it" ||
    fail "assets fetch" "output: $(echo "$fetched" | tail -n 2 | tr '\n' ' '); owner $owner; served $served; upstream requests $(upstream_requests "/debian/$NETBOOT/extra.img")"
# GRUB under Secure Boot reads over TFTP, which serves a cached copy as it is.
tftp_code=0
ip netns exec "$(rig_ns client)" tftp "$BOOT_IP" -m binary -c get "debian/$NETBOOT/extra.img" "$WORK/extra-tftp" ||
    tftp_code=$?
[ "$(sha256sum <"$WORK/extra-tftp" | cut -d' ' -f1)" = "$EXTRA_SHA" ] &&
    pass "assets fetch: the fetched file over TFTP too" ||
    fail "assets fetch: over TFTP" "tftp exit $tftp_code, $(stat -c %s "$WORK/extra-tftp" 2>/dev/null || echo no) bytes"
listed=$(assets list)
[[ $listed == *"debian/$NETBOOT/extra.img  1.4 MiB"* ]] && [[ $listed == *"debian/$NETBOOT/initrd.gz"*"(pinned)"* ]] &&
    [[ $listed == *"installer  https://$MIRROR_IP/debian/$NETBOOT"* ]] &&
    pass "assets list: upstreams (the profile's too) and files, pins marked" ||
    fail "assets list" "$(echo "$listed" | head -n 12 | tr '\n' '|')"
printf 'X' | dd of="$WORK/data/cache/debian/$NETBOOT/extra.img" bs=1 seek=1000 conv=notrunc status=none
verify_code=0
verified=$(assets verify) || verify_code=$?
[ "$verify_code" = 1 ] && [[ $verified == *"debian/$NETBOOT/extra.img: CORRUPT: SHA-256 "*"; removed"* ]] &&
    [[ $verified == *"debian/$NETBOOT/initrd.gz: ok"* ]] && [ ! -e "$WORK/data/cache/debian/$NETBOOT/extra.img" ] &&
    pass "assets verify: a file changed on disk is found and removed (exit 1), the others ok" ||
    fail "assets verify" "exit $verify_code: $(echo "$verified" | tr '\n' '|' | cut -c1-400)"
pruned=$(assets prune --orphans "debian/$NETBOOT/notes.txt")
[[ $pruned == *"debian/$NETBOOT/notes.txt: removed"* ]] && [ ! -e "$WORK/data/cache/debian/$NETBOOT/notes.txt" ] &&
    [[ $pruned == *"slow/$NETBOOT/linux: removed"*"upstream slow is neither configured"* ]] &&
    [ -e "$WORK/data/cache/debian/$NETBOOT/initrd.gz" ] &&
    pass "assets prune: the file named, and the files of upstreams no longer named; the rest kept" ||
    fail "assets prune" "$(echo "$pruned" | tr '\n' '|' | cut -c1-400)"

# --- mirror down ----------------------------------------------------------------------------------
kill "$NGINX_PID"
wait "$NGINX_PID" 2>/dev/null || true
restart_vboot --cache-max-age 0
stale=$(client curl -s -m 30 -o "$WORK/stale" -w '%{http_code}' "$VB/installer/linux" || true)
[ "$stale" = 200 ] && [ "$(sha256sum <"$WORK/stale" | cut -d' ' -f1)" = "$LINUX_SHA" ] &&
    [ "$(metric cache_stale_served)" = 1 ] && grep -q "serving the cached copy; the upstream could not be asked" "$WORK/vboot.log" &&
    pass "mirror down: a file past its max age that cannot be asked about is served from its copy, with a warning" ||
    fail "mirror down: stale copy" "HTTP $stale, stale served $(metric cache_stale_served)"
code=$(client curl -s -m 30 -o "$WORK/offline-cached" -w '%{http_code}' "$VB/debian/$NETBOOT/initrd.gz" || true)
miss=$(client curl -s -m 30 -w ' %{http_code}' "$VB/debian/$NETBOOT/missing.gz" | tr -d '\n' || true)
[ "$code" = 200 ] && [ "$(sha256sum <"$WORK/offline-cached" | cut -d' ' -f1)" = "$INITRD_SHA" ] &&
    [[ $miss == "vboot cache: https://$MIRROR_IP/debian/$NETBOOT/missing.gz: "*" 502" ]] &&
    pass "mirror down: the cached initrd still served; a miss is 502 with the reason" "${miss%% 502}" ||
    fail "mirror down" "cached: HTTP $code; miss: $miss"

# --- offline mode ---------------------------------------------------------------------------------
restart_vboot --cache-mode offline
code=$(client curl -s -m 30 -o "$WORK/offline-cached" -w '%{http_code}' "$VB/installer/linux" || true)
miss=$(client curl -s -m 30 -w ' %{http_code}' "$VB/debian/$NETBOOT/other.gz" | tr -d '\n' || true)
[ "$code" = 200 ] && [ "$(sha256sum <"$WORK/offline-cached" | cut -d' ' -f1)" = "$LINUX_SHA" ] &&
    [[ $miss == *"not cached, and the cache is offline (--cache-mode offline)"*" 502" ]] &&
    [ "$(metric cache_offline_misses)" = 1 ] &&
    pass "offline mode: cached files served without asking, a miss is 502 saying so" ||
    fail "offline mode" "cached: HTTP $code; miss: $miss"

finish
