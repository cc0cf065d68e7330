#!/usr/bin/env bash
# End to end: wrk against examples/nethttp (dev mode) on loopback, for an
# unprotected route, a protected one with one repeated token (the verified-
# token cache answers), and a protected one cycling through more distinct
# tokens than the cache holds (every request verifies a signature).
# Needs wrk (Debian package). Writes results/wrk.txt. Environment:
#   DURATION (default 10s), CONNS (default 32), POOL (default 30000)
set -euo pipefail
cd "$(dirname "$0")"
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
POOL=${POOL:-30000}
command -v wrk >/dev/null || { echo "wrk.sh: install wrk (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
(cd .. && go build -o "$tmp/nethttp" ./examples/nethttp)
"$tmp/nethttp" -addr 127.0.0.1:0 >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
for _ in $(seq 100); do grep -q 'msg=ready' "$tmp/stderr" && break; sleep 0.1; done
api=$(sed -n 's/.*msg=ready url=\([^ ]*\).*/\1/p' "$tmp/stderr")
token_url=$(sed -n 's/.*issues tokens at \([^ ]*\)$/\1/p' "$tmp/stdout")
[[ -n $api && -n $token_url ]] || { cat "$tmp/stderr" "$tmp/stdout" >&2; exit 1; }

go run ./cmd/tokens -url "$token_url" -n 1 >"$tmp/one.txt"
go run ./cmd/tokens -url "$token_url" -n "$POOL" >"$tmp/pool.txt"

mkdir -p results
{
	echo "# wrk -t2 -c$CONNS -d$DURATION --latency against examples/nethttp on loopback ($(nproc) cores shared by server and load)"
	echo "## unprotected: GET /healthz"
	wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$api/healthz"
	echo "## protected, one repeated token (cache hits): GET /api/me"
	TOKENS="$tmp/one.txt" wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s wrk/tokens.lua "$api"
	echo "## protected, $POOL distinct tokens cycled (more than the cache holds: signatures verified): GET /api/me"
	TOKENS="$tmp/pool.txt" wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s wrk/tokens.lua "$api"
} | tee results/wrk.txt
