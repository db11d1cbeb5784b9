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
