# Shared helpers for the CLI tests: a scratch folder per test, assertions that say what differed.
set -euo pipefail
: "${HM_BINARY:?run through ctest}"
HM_DATA="$HM_TEST_DATA"
work=$(mktemp -d "${HM_TMP:-/tmp}/$(basename "$0" .sh).XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
# expect_eq WHAT ACTUAL EXPECTED
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; }
# sql FILE QUERY: one value or rows, '|' separated
sql() { sqlite3 -batch -noheader "$1" "$2"; }
