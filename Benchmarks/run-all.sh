#!/usr/bin/env bash
# Runs the benchmarks one after another: run-tftp.sh, run-proxy.sh, run-dhcp.sh, run-http.sh and
# run-storm.sh.
# Other arguments go to each script unchanged (e.g. --quick, --vboot PATH,
# --pin split). Each table is also written to DIR/<name>.txt. Needs root. See Benchmarks/README.md.
#
#   sudo Benchmarks/run-all.sh                 # full runs
#   sudo Benchmarks/run-all.sh --quick         # short runs
#   options: --dir DIR (where the tables go; default /tmp/vboot-bench-<UTC time>)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR=""
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR="$2"; shift ;;
        -h|--help) sed -n 2,8p "$0"; exit 0 ;;
        *) ARGS+=("$1") ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
DIR="${DIR:-/tmp/vboot-bench-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$DIR"

SUMMARY=()
STATUS=0
for name in tftp proxy dhcp http storm; do
    script="$HERE/run-$name.sh"
    if [ ! -f "$script" ]; then
        SUMMARY+=("$name: skipped (no $script)")
        continue
    fi
    echo "[$(date +%T)] === run-$name.sh ${ARGS[*]}" >&2
    if bash "$script" "${ARGS[@]}" --out "$DIR/$name.txt"; then
        SUMMARY+=("$name: $DIR/$name.txt")
    else
        rc=$?
        SUMMARY+=("$name: FAILED (exit $rc)$([ -s "$DIR/$name.txt" ] && echo "; partial table in $DIR/$name.txt")")
        STATUS=1
    fi
    echo >&2
done

echo
echo "Tables:"
printf '  %s\n' "${SUMMARY[@]}"
exit "$STATUS"
