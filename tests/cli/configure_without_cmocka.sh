#!/usr/bin/env bash
# scripts/demo, the README's first command, installs only what harmmap needs (scripts/setup without --test): the
# project must configure without cmocka then, leaving the unit tests out and saying so, and ctest must fail one
# test that names what is missing rather than pass with the unit tests silently absent.
set -euo pipefail
dir=$HM_TMP/configure_without_cmocka
rm -rf "$dir"
mkdir -p "$dir"
cmake -S "$HM_SOURCE_DIR" -B "$dir" -DCMAKE_DISABLE_FIND_PACKAGE_cmocka=ON >"$dir/configure.log" 2>&1 ||
  { echo "configure without cmocka failed:"; tail -20 "$dir/configure.log"; exit 1; }
grep -q "cmocka not found: unit tests not built" "$dir/configure.log" ||
  { echo "configure did not say the unit tests were left out"; cat "$dir/configure.log"; exit 1; }
tests=$(cd "$dir" && ctest -N)
grep -q "unit_tests_need_cmocka" <<<"$tests" || { echo "no test says cmocka is missing: $tests"; exit 1; }
if grep -q "unit_context" <<<"$tests"; then echo "unit tests registered without cmocka"; exit 1; fi
grep -q "cli_run" <<<"$tests" || { echo "the CLI tests should still be registered"; exit 1; }
rm -rf "$dir"
