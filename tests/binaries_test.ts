/**
 * The compiled binaries are self-contained: copied into an empty directory with no node_modules
 * anywhere above it, each answers --version, --help and a usage error.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname ?? ".", "..");
const programs = ["dstm-server", "dstm-tep", "dstm-client"];

function noNodeModulesAbove(dir: string): boolean {
  for (let d = dir;; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "node_modules"))) return false;
    if (path.dirname(d) === d) return true;
  }
}

for (const program of programs) {
  test(`binaries: ${program} runs from an empty directory`, () => {
    const built = path.join(root, "dist", program);
    assert.ok(fs.existsSync(built), `${built} is missing: run 'npm run build' (npm test does)`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-bin-"));
    try {
      assert.ok(noNodeModulesAbove(dir), `a node_modules exists above ${dir}`);
      const exe = path.join(dir, program);
      fs.copyFileSync(built, exe);
      fs.chmodSync(exe, 0o755);
      const opts = { cwd: dir, encoding: "utf8" as const, env: { PATH: "/usr/bin:/bin" } };

      const version = spawnSync(exe, ["--version"], opts);
      assert.equal(version.status, 0, version.stderr);
      assert.match(
        version.stdout,
        new RegExp(`^${program} \\d+\\.\\d+\\.\\d+ \\(bun [\\d.]+, linux `),
      );

      const help = spawnSync(exe, ["--help"], opts);
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`^${program}: `));
      assert.match(help.stdout, /Flags:/);
      assert.match(help.stdout, /Examples:/);
      assert.match(help.stdout, /--config FILE/);

      const bad = spawnSync(exe, ["--no-such-flag"], opts);
      assert.equal(bad.status, 2);
      assert.equal(bad.stdout, "");
      assert.match(bad.stderr, /^dstm-\w+: unknown flag --no-such-flag/);
      assert.equal(bad.stderr.trim().split("\n").length, 1, "usage error is one line");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
