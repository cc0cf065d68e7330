#!/usr/bin/env bash
# Profiles one benchmark (default: jwtguard, RS256, serial) and writes the
# pprof -top listings to results/profile_<NAME>_cpu.txt (CPU, flat) and
# results/profile_<NAME>_alloc.txt (allocations by count and by bytes, every
# allocation sampled), restricted to the timed operation. Environment:
#   CONTENDER  contender to profile (default jwtguard; e.g. jwtguard-cache)
#   ALG, MODE  algorithm and serial|parallel (default RS256, serial)
#   NAME       output name (default CONTENDER-ALG-MODE)
#   BENCHTIME  -benchtime (default 5s)
#   PROFDIR    where the .out files and the test binary go (default: a temp dir)
set -euo pipefail
cd "$(dirname "$0")"

CONTENDER=${CONTENDER:-jwtguard}
ALG=${ALG:-RS256}
MODE=${MODE:-serial}
NAME=${NAME:-$CONTENDER-$ALG-$MODE}
BENCHTIME=${BENCHTIME:-5s}
PROFDIR=${PROFDIR:-$(mktemp -d)}
# Anchored at every level: "jwtguard" alone would also match "jwtguard-cache".
BENCH="^BenchmarkVerify\$/^$ALG\$/^$CONTENDER\$/^$MODE\$"
mkdir -p results "$PROFDIR"
focus='handlerOp|setupFloor' # the timed operation only, not the setup
run=(go test -run '^$' -bench "$BENCH" -benchtime "$BENCHTIME" -benchmem -cpu 2 -o "$PROFDIR/bench.test")

"${run[@]}" -cpuprofile "$PROFDIR/cpu.out" . | tee "$PROFDIR/cpu-run.txt"
"${run[@]}" -memprofile "$PROFDIR/mem.out" -memprofilerate 1 . >/dev/null
if ! grep -q "^BenchmarkVerify/$ALG/$CONTENDER/$MODE" "$PROFDIR/cpu-run.txt"; then
	echo "profile.sh: no benchmark matched $BENCH" >&2
	exit 1
fi

out=results/profile_${NAME}
{
	echo "# $BENCH: CPU, flat, focus=$focus"
	grep '^BenchmarkVerify' "$PROFDIR/cpu-run.txt"
	go tool pprof -top -nodecount 40 -focus "$focus" "$PROFDIR/bench.test" "$PROFDIR/cpu.out"
} > "${out}_cpu.txt"
{
	echo "# $BENCH: allocations by count (alloc_objects), focus=$focus"
	go tool pprof -top -nodecount 25 -sample_index alloc_objects -focus "$focus" "$PROFDIR/bench.test" "$PROFDIR/mem.out"
	echo
	echo "# allocations by bytes (alloc_space)"
	go tool pprof -top -nodecount 25 -sample_index alloc_space -focus "$focus" "$PROFDIR/bench.test" "$PROFDIR/mem.out"
} > "${out}_alloc.txt"
echo "profiles in $PROFDIR; listings in ${out}_cpu.txt, ${out}_alloc.txt" >&2
