# shellcheck shell=bash
# runs_unprivileged PID [CAPS]: every thread of PID runs as the vboot user (real, effective, saved
# and file-system uid), with no-new-privileges, and its effective capabilities are at most CAPS
# (hex; default 400 = CAP_NET_BIND_SERVICE alone). RUNS_AS_UID names the uid when the vboot user
# is another system's (a chroot's).
runs_unprivileged() {
    local uid task fields caps allowed=$((16#${2:-400}))
    uid=${RUNS_AS_UID:-$(id -u vboot 2>/dev/null)} || return 1
    [ -n "$uid" ] || return 1
    for task in /proc/"$1"/task/*; do
        fields=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$task/status" 2>/dev/null) || return 1
        [ "$fields" = "$uid $uid $uid $uid" ] || return 1
        caps=$(awk '/^CapEff:/ {print $2}' "$task/status")
        (((16#$caps & ~allowed) == 0)) || return 1
        grep -q '^NoNewPrivs:[[:space:]]*1' "$task/status" || return 1
    done
}

# credentials PID: one line, for failure messages.
credentials() {
    grep -E '^(Uid|Gid|CapEff|NoNewPrivs):' "/proc/$1/status" 2>/dev/null | tr -s '\t\n' '  '
}
