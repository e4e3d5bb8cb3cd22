#!/usr/bin/env node
// The test command of the README: builds the binaries, runs the whole suite under Deno and under
// Bun, and ends with one line `N passed, N failed` totalled over both runtimes. Exits non-zero on
// any failure, or when the two runtimes did not run the same number of tests.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const filters = process.argv.slice(2);
const env = { ...process.env, NO_COLOR: "1" };
delete env.FORCE_COLOR;

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    const take = (stream, sink) =>
      stream.on("data", (d) => {
        text += d;
        sink.write(d);
      });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    child.on("close", (code, signal) => resolve({ code: code ?? 128, signal, text }));
  });
}

function count(runtime, text) {
  // deno: "ok | 12 passed | 0 failed | 1 ignored (3s)"  bun: " 12 pass\n 1 skip\n 0 fail"
  // deno-lint-ignore no-control-regex
  const strip = text.replace(/\x1b\[[0-9;]*m/g, "");
  if (runtime === "deno") {
    const m = [
      ...strip.matchAll(
        /\| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \| (\d+) ignored)?/g,
      ),
    ].at(-1);
    return m ? { passed: +m[1], failed: +m[2], skipped: +(m[3] ?? 0) } : null;
  }
  const p = [...strip.matchAll(/^\s*(\d+) pass$/gm)].at(-1);
  const f = [...strip.matchAll(/^\s*(\d+) fail$/gm)].at(-1);
  const s = [...strip.matchAll(/^\s*(\d+) skip$/gm)].at(-1);
  return p || f
    ? { passed: +(p?.[1] ?? 0), failed: +(f?.[1] ?? 0), skipped: +(s?.[1] ?? 0) }
    : null;
}

const build = await run("bash", ["scripts/build.sh"]);
if (build.code !== 0) {
  console.log("build failed");
  console.log("0 passed, 1 failed");
  process.exit(1);
}

const results = [];
for (const runtime of ["deno", "bun"]) {
  console.log(`\n==== ${runtime} ====`);
  const args = runtime === "deno"
    ? ["test", "-A", "--no-prompt", ...filters]
    : ["test", "--timeout", "600000", ...(filters.length ? filters.map((f) => `./${f}`) : [])];
  const r = await run(bin(runtime), args);
  const c = count(runtime, r.text);
  if (!c) {
    console.log(
      `${runtime}: could not read the test summary (exit ${r.code}${
        r.signal ? ", " + r.signal : ""
      })`,
    );
    results.push({ runtime, passed: 0, failed: 1, skipped: 0, code: r.code });
  } else {
    // A crashed runner with no failures counted is still a failure.
    if (r.code !== 0 && c.failed === 0) c.failed = 1;
    results.push({ runtime, ...c, code: r.code });
  }
}

console.log("\n==== summary ====");
for (const r of results) {
  console.log(`${r.runtime}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
}
let failed = results.reduce((a, r) => a + r.failed, 0);
const passed = results.reduce((a, r) => a + r.passed, 0);
const [d, b] = results;
if (d.passed + d.failed + d.skipped !== b.passed + b.failed + b.skipped) {
  console.log(
    `test count differs between runtimes (deno ${d.passed + d.failed + d.skipped}, bun ${
      b.passed + b.failed + b.skipped
    })`,
  );
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
