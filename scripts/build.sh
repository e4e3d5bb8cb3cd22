#!/usr/bin/env bash
# Compile dist/dstm-server, dist/dstm-tep and dist/dstm-client as self-contained executables.
# Every `*_worker.ts` under lib/ and under the program's own directory is listed as an extra
# entry point: a Worker file that is not listed makes the compiled binary hang when it starts it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
[ -x "$bin/bun" ] || { echo "build: $bin/bun missing; run 'npm ci' first" >&2; exit 1; }
mkdir -p dist
mapfile -t lib_workers < <(find lib -name '*_worker.ts' -not -name '*_test.ts' -not -path '*/testdata/*' | sort)
for p in server tep client; do
  mapfile -t own_workers < <(find "$p" -name '*_worker.ts' -not -name '*_test.ts' | sort)
  "$bin/bun" build --compile --minify-syntax --minify-whitespace \
    "./$p/main.ts" "${lib_workers[@]/#/./}" "${own_workers[@]/#/./}" \
    --outfile "dist/dstm-$p" >/dev/null
  printf 'build: dist/dstm-%s (%s bytes, bun build --compile)\n' "$p" "$(stat -c %s "dist/dstm-$p")"
done
# deno compile downloads its runtime (denort) on first use; where that download cannot be made
# (no network beyond the npm registry), say so and carry on with the bun binaries.
if [ "${DSTM_DENO_COMPILE:-auto}" != "no" ]; then
  if out=$(NO_COLOR=1 "$bin/deno" compile -A --output dist/deno/dstm-server server/main.ts 2>&1); then
    for p in tep client; do "$bin/deno" compile -A --output "dist/deno/dstm-$p" "$p/main.ts" >/dev/null 2>&1; done
    echo "build: dist/deno/dstm-{server,tep,client} (deno compile)"
  else
    rm -rf dist/deno
    reason=$(printf '%s\n' "$out" | grep -m1 -iE 'dns error|lookup|download|network' | sed 's/^ *[0-9]*: *//' || true)
    echo "build: skipping deno compile: its runtime download failed here (${reason:-no detail})"
  fi
fi
