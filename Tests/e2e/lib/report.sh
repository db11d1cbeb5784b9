# shellcheck shell=bash
# A suite's checks and its closing line "N passed, N failed" (scripts/test reads that line).
#   pass NAME; fail NAME [DETAIL] [LOG: its last 15 lines are shown]; finish (last; its status
#   is the suite's); early_fail NAME [DETAIL] [LOG] (fail, finish, exit 1).

PASSED=0 FAILED=0
FAILURES=()
pass() { echo "  ok    $1"; PASSED=$((PASSED + 1)); }
fail() {
    echo "  FAIL  $1${2:+: $2}"
    [ -z "${3:-}" ] || [ ! -f "$3" ] || grep -v '\[ServiceLifecycle\]' "$3" | tail -n 15 | sed 's/^/        /'
    FAILED=$((FAILED + 1)) FAILURES+=("$1")
}
finish() {
    echo
    [ ${#FAILURES[@]} -eq 0 ] || printf 'failed: %s\n' "${FAILURES[@]}"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
early_fail() { fail "$1" "${2:-}" "${3:-}"; finish; exit 1; }
