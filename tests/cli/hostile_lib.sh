# Helpers for the hostile-input tests (tests/cli/hostile_*.sh): each input must give a clear error or a reject,
# never a crash, a hang or an output that is silently wrong.
source "$(dirname "$0")/lib.sh"
sample="$HM_SOURCE_DIR/data/sample"
wards="$HM_DATA/geocode/wards.geojson"
# expect_error WHAT PATTERN COMMAND-ARGS...: harmmap exits 1 or 2 (not a signal), says PATTERN on stderr, and
# the message holds no control bytes (a hostile file's bytes must not reach the terminal).
expect_error() {
  local what=$1 pattern=$2
  shift 2
  local status=0
  "$HM_BINARY" "$@" >"$work/out.txt" 2>"$work/err.txt" || status=$?
  [ $status -eq 1 ] || [ $status -eq 2 ] || fail "$what: exit status $status, expected 1 or 2: $(head -c 600 "$work/err.txt")"
  grep -qi -- "$pattern" "$work/err.txt" || fail "$what: message lacks '$pattern': $(head -c 600 "$work/err.txt")"
  if tr -d '\n\t' <"$work/err.txt" | LC_ALL=C grep -q '[[:cntrl:]]'; then
    fail "$what: control bytes in the message"
  fi
  echo "  $what: $(head -c 300 "$work/err.txt" | head -1)"
}
# reasons GPKG: "line:reason" of every reject, in line order.
reasons() { sql "$1" "select group_concat(source_line||':'||reason, ' ') from (select * from rejects order by source_line)"; }
