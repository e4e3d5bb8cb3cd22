#!/usr/bin/env bash
# The dstm benchmark suite: `npm run bench` / `deno task bench` (as root). Extra arguments go to
# bench/main.ts (--only tep,client,server,startup  --launch dist|deno|bun  --rounds N  --quick).
#
# 1. installs what it needs from Debian if missing (iperf3, nftables, ethtool, gcc);
# 2. builds the binaries (scripts/build.sh; BENCH_NO_BUILD=1 reuses dist/) and copies them to
#    bench/out/bin, so a concurrent rebuild of dist/ cannot change them mid-run;
# 3. compiles the packet generator and the C reference forwarder;
# 4. runs bench/main.ts: a table on stdout, everything as JSON in bench/out/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root (network namespaces, TUN, raw sockets)" >&2; exit 2; }
need=()
command -v iperf3 >/dev/null || need+=(iperf3)
command -v nft >/dev/null || need+=(nftables)
command -v ethtool >/dev/null || need+=(ethtool)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; }
fi
mkdir -p bench/out/bin
if [ "${BENCH_NO_BUILD:-}" != 1 ]; then DSTM_DENO_COMPILE=no bash scripts/build.sh >&2; fi
cp dist/dstm-server dist/dstm-tep dist/dstm-client bench/out/bin/
gcc -O2 -Wall -o bench/out/pktgen bench/pktgen.c
gcc -O2 -Wall -o bench/out/tunfwd bench/tunfwd.c
exec node_modules/.bin/deno run -A bench/main.ts "$@"
