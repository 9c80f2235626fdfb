#!/usr/bin/env bash
# The test command: set up (idempotent), type-check, run every test file, and end with
# one plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; }
log=$(mktemp)
status=0

npx --no-install tsc -p . >/dev/null 2>&1 || { echo "type check failed (npx tsc -p .)"; status=1; }
# one process per file: a crash in one file cannot hide the others' results
passed=0; failed=0
files=("$@"); [ ${#files[@]} -gt 0 ] || files=(test/*.test.ts)
for f in "${files[@]}"; do
  echo "== $f"
  node --import tsx "$f" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  t=$(sed -n 's/^ *Total: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  p=${p:-0}; t=${t:-0}
  f_count=$((t - p))
  if [ "$rc" -ne 0 ] && [ "$f_count" -eq 0 ]; then f_count=1; fi
  passed=$((passed + p)); failed=$((failed + f_count))
done
[ "$status" -eq 0 ] || failed=$((failed + 1))
rm -f "$log"
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
