import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { processHookRunner } from "./hooks.ts";
import { createLogger } from "../lib/log/logger.ts";

function script(dir: string, name: string, body: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return p;
}

test("hooks: the script gets the DSTM_* environment; its output is logged", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-hooks-"));
  try {
    const lines: string[] = [];
    const run = processHookRunner(createLogger({ write: (l) => lines.push(l) }), 5000);
    const s = script(dir, "up.sh", 'echo "ip=$DSTM_IPV4 if=$DSTM_INTERFACE"; exit 3');
    const r = await run(s, { DSTM_IPV4: "198.51.100.7", DSTM_INTERFACE: "dstm0" });
    assert.deepEqual(r, { code: 3, signal: null, timedOut: false });
    assert.ok(
      lines.some((l) => l.includes("hook.output") && l.includes("ip=198.51.100.7 if=dstm0")),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("hooks: a hook past its timeout is killed; a missing script is reported, not thrown", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-hooks-"));
  try {
    const run = processHookRunner(createLogger({ write: () => {} }), 200);
    const slow = script(dir, "slow.sh", "exec sleep 10");
    const t0 = Date.now();
    const r = await run(slow, {});
    assert.equal(r.timedOut, true);
    assert.equal(r.code, null);
    assert.ok(Date.now() - t0 < 5000);
    const missing = await run(path.join(dir, "nope.sh"), {});
    assert.equal(missing.code === 0, false);
    assert.ok(missing.error !== undefined || missing.code !== 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
