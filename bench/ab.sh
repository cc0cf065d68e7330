#!/usr/bin/env bash
# A/B: the bench of BASE (a git revision)
# against the working tree, alternated run by run so that machine noise
# hits both sides alike, then each side's table of ratios to floor-crypto
# (cmd/ratios: medians, wall and CPU time, allocations). Environment:
#   BASE    the revision to compare against (required)
#   ROUNDS  alternations (default 6)
#   BENCH   -bench pattern (default: the jwtguard contenders and the floor)
set -euo pipefail
cd "$(dirname "$0")"
: "${BASE:?set BASE to a git revision}"
ROUNDS=${ROUNDS:-6}
BENCH=${BENCH:-'BenchmarkVerify/(RS256|ES256|EdDSA)/(floor-crypto|jwtguard[a-z0-9-]*)/serial'}
tree=$(mktemp -d)
trap 'git -C .. worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git -C .. worktree add -q --detach "$tree" "$BASE"
out=$(mktemp)
for _ in $(seq "$ROUNDS"); do
	(cd "$tree/bench" && go test -run '^$' -bench "$BENCH" -benchmem -count 1 -cpu 2 . | grep '^Benchmark' | sed 's/^/base /') >>"$out"
	(go test -run '^$' -bench "$BENCH" -benchmem -count 1 -cpu 2 . | grep '^Benchmark' | sed 's/^/head /') >>"$out"
done
for side in base head; do
	grep "^$side " "$out" | sed "s/^$side //" >"$out.$side"
	echo "## $side ($([ "$side" = base ] && echo "$BASE" || echo "working tree"))"
	go run ./cmd/ratios -in "$out.$side"
done
