#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for a while each.
#   scripts/fuzz.sh [DURATION]     (default 20s; e.g. 5m for a long run)
# New crashers are written to the package's testdata/fuzz/ by go test; add
# them to the repository as regression cases.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-20s}
targets=$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | sort)
total=$(grep -rh --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | wc -l)
n=0
for file in $targets; do
  pkg=./$(dirname "${file#./}")
  for fn in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | cut -d' ' -f2); do
    n=$((n + 1))
    echo "[$n/$total] $pkg $fn for $fuzztime"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
echo "all $total fuzz targets ran for $fuzztime each without a failure"
