#!/usr/bin/env bash
# `npm test`: type-check, then run every test file under c8 with coverage of src/, sim/ and spec/.
# Node's test runner reports in TAP on stdout, so its summary (`# tests N`, `# pass N`,
# `# fail N`) is always there to read, and coverage follows it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "# typecheck: tsc --noEmit -p ."
npm run --silent typecheck

shopt -s nullglob
files=(test/unit/*.test.ts test/integration/*.test.ts test/property/*.test.ts test/regressions/*.test.ts test/containers/*.test.ts)
shopt -u nullglob
if [ "${#files[@]}" -eq 0 ]; then
  echo "test/run.sh: no test files found" >&2
  exit 1
fi

exec npx --no-install c8 --all --src src --src sim --src spec \
  --include 'src/**' --include 'sim/**' --include 'spec/**' \
  --reporter text-summary --reporter text \
  node --import tsx --test --test-reporter=tap --test-reporter-destination=stdout "${files[@]}"
