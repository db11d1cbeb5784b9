# Shared by the run-*.sh benchmark scripts (sourced after they set HERE, REPO and VBOOT).
# The server under test is $SERVER_PID, started by hand and stopped by PID.

log() { echo "[$(date +%T)] $*" >&2; }

TICKS=$(getconf CLK_TCK)

# VBOOT, else the release build, else the debug build; warns when sources are newer.
pick_vboot() {
    if [ -z "$VBOOT" ]; then
        if [ -x "$REPO/.build/release/vboot" ]; then VBOOT="$REPO/.build/release/vboot"
        else VBOOT="$REPO/.build/debug/vboot"; fi
    fi
    [ -x "$VBOOT" ] || { echo "no vboot binary at $VBOOT (swift build -c release)" >&2; exit 2; }
    local newer
    newer=$(find "$REPO/Sources" "$REPO/Package.swift" -newer "$VBOOT" -type f 2>/dev/null | wc -l)
    [ "$newer" = 0 ] || log "warning: $newer source files are newer than $VBOOT"
    # Started as root, vboot drops to the vboot user once its ports are bound (README: Security),
    # as the Debian package's unit runs it; the package creates that user, a source build does not.
    if ! id vboot >/dev/null 2>&1; then
        log "adduser --system vboot (the user vboot drops to)"
        adduser --system --group --home /var/lib/vboot --no-create-home vboot >&2
    fi
}

# SIGTERM, up to 5 s to exit, then SIGKILL.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# Server CPU accounting: a cgroup-v1 cpuacct group named $1$$ holds the server and its children
# (forked tftpd-hpa transfers, nginx's worker); without cgroups, /proc/PID/stat of the server
# (utime+stime+cutime+cstime). CG is empty then.
CG=""
cg_setup() {
    local d="/sys/fs/cgroup/cpuacct/$1$$"
    if [ -d /sys/fs/cgroup/cpuacct ] && mkdir "$d" 2>/dev/null; then CG="$d"; fi
}
cg_add() { [ -z "$CG" ] || echo "$1" >"$CG/cgroup.procs"; }
cpu_ns() {
    if [ -n "$CG" ]; then cat "$CG/cpuacct.usage"
    else awk -v t="$TICKS" '{ sub(/^.*\) /, ""); printf "%.0f\n", ($12 + $13 + $14 + $15) * 1e9 / t }' "/proc/$1/stat"; fi
}

# Sets NGINX and NGINX_VERSION. Installing the nginx package starts a service on port 80 outside
# the namespace, so the nginx binary is fetched with apt-get download and unpacked with
# dpkg-deb -x into /var/cache/vboot-bench/nginx (its libraries, libssl3, libpcre2-8-0, zlib1g
# and libcrypt1, are installed with apt-get). An installed /usr/sbin/nginx is used first. It
# only ever runs with our own config and pid file.
PEER_CACHE=/var/cache/vboot-bench
need_nginx() {
    local need_apt=() lib
    for lib in libssl3 libpcre2-8-0 zlib1g libcrypt1; do
        dpkg -s "$lib" >/dev/null 2>&1 || need_apt+=("$lib")
    done
    if [ ${#need_apt[@]} -gt 0 ]; then
        log "apt-get install ${need_apt[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}" >&2
    fi
    NGINX=/usr/sbin/nginx
    if [ ! -x "$NGINX" ]; then
        mkdir -p "$PEER_CACHE/nginx"
        if ! ls "$PEER_CACHE"/nginx_*.deb >/dev/null 2>&1; then
            log "apt-get download nginx"
            (cd "$PEER_CACHE" && apt-get download nginx >&2)
        fi
        [ -x "$PEER_CACHE/nginx/usr/sbin/nginx" ] || dpkg-deb -x "$(ls "$PEER_CACHE"/nginx_*.deb | head -1)" "$PEER_CACHE/nginx"
        NGINX="$PEER_CACHE/nginx/usr/sbin/nginx"
    fi
    NGINX_VERSION=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')
}

# veth_link NS_A IF_A ADDR_A/LEN NS_B IF_B ADDR_B/LEN: a veth pair between two namespaces (each
# made here unless it exists, with lo up and IPv6 off), addressed and up, with static neighbours
# on both sides so that no ARP happens during a run.
veth_link() {
    local na="$1" ia="$2" aa="$3" nb="$4" ib="$5" ab="$6" ns ma mb
    for ns in "$na" "$nb"; do
        [ -e "/run/netns/$ns" ] && continue
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || true
    done
    ip link add "$ia" type veth peer name "$ib"
    ip link set "$ia" netns "$na"
    ip link set "$ib" netns "$nb"
    ip -n "$na" addr add "$aa" dev "$ia"
    ip -n "$nb" addr add "$ab" dev "$ib"
    ip -n "$na" link set "$ia" up
    ip -n "$nb" link set "$ib" up
    ma=$(ip -n "$na" -o link show "$ia" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
    mb=$(ip -n "$nb" -o link show "$ib" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
    ip -n "$na" neigh replace "${ab%/*}" lladdr "$mb" dev "$ia" nud permanent
    ip -n "$nb" neigh replace "${aa%/*}" lladdr "$ma" dev "$ib" nud permanent
}

# Peak RSS of a process since it started (or since clear_refs 5), KiB.
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
