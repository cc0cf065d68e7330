#!/usr/bin/env bash
# Runs BenchmarkVerify and writes results/raw.txt, results/benchstat.txt and
# results/table.md and results/chart.svg. Environment:
#   COUNT      runs per benchmark (default 6)
#   CPU        GOMAXPROCS for the run, passed as -cpu (default 2)
#   BENCH      -bench pattern (default ".", everything)
#   BENCHTIME  -benchtime (default: go test's, 1s)
#   BENCHSTAT_VERSION  golang.org/x/perf version for benchstat
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-6}
CPU=${CPU:-2}
BENCH=${BENCH:-.}
BENCHSTAT_VERSION=${BENCHSTAT_VERSION:-v0.0.0-20260908200009-22c9c6c9d4da}
args=(-run '^$' -bench "$BENCH" -benchmem -count "$COUNT" -cpu "$CPU")
if [[ -n ${BENCHTIME:-} ]]; then
	args+=(-benchtime "$BENCHTIME")
fi

mkdir -p results
echo "go test ${args[*]} ." >&2
{
	echo "jwtguard: $(git -C .. describe --always --dirty 2>/dev/null || echo unknown)"
	go test "${args[@]}" .
} | tee results/raw.txt
go run "golang.org/x/perf/cmd/benchstat@${BENCHSTAT_VERSION}" results/raw.txt > results/benchstat.txt
go run ./cmd/ratios -in results/raw.txt -out results/table.md -svg results/chart.svg
echo >&2
echo "wrote results/raw.txt, results/benchstat.txt, results/table.md, results/chart.svg" >&2
cat results/table.md
