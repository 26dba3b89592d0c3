#!/usr/bin/env bash
# harmmap --version names harmmap and the GDAL, PROJ and GEOS it runs with; help lists the subcommands;
# an unknown command fails with exit status 2 and a hint.
set -euo pipefail
out=$("$HM_BINARY" --version)
for word in harmmap GDAL PROJ GEOS; do
  grep -q "$word" <<<"$out" || { echo "--version lacks $word: $out"; exit 1; }
done
help=$("$HM_BINARY" help)
grep -q geocode <<<"$help" || { echo "help does not list geocode"; exit 1; }
set +e
"$HM_BINARY" no-such-command 2>err.txt; status=$?
set -e
[ "$status" -eq 2 ] || { echo "unknown command exited $status, expected 2"; exit 1; }
grep -q "harmmap help" err.txt || { echo "no hint for unknown command"; cat err.txt; exit 1; }
rm -f err.txt
