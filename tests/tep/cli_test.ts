/** `dstm-tep` as a command: help, `--check-config` exit codes, `ctl` without a daemon. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { entryPrograms } from "./harness.ts";

function tep(args: string[]): { status: number; stdout: string; stderr: string } {
  const p = entryPrograms().tep;
  const r = spawnSync(p[0], [...p.slice(1), ...args], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

const VALID = [
  "--server",
  "[2001:db8:1::1]:3653",
  "--credentials",
  "tep1:secret",
  "--address",
  "2001:db8:ffff::1",
  "--ipv4",
  "192.0.2.1",
  "--pool",
  "198.51.100.0/24",
  "--client-prefix",
  "2001:db8:100::/48",
];

test("tep cli: --check-config exits 0 for a valid configuration and 78 with every issue", () => {
  const ok = tep([...VALID, "--check-config"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /configuration OK: TEP tep1/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-tep-cli-"));
  try {
    const file = path.join(dir, "tep.json");
    fs.writeFileSync(file, JSON.stringify({ pool: "198.51.100.0/24", mtu: 99, colour: "red" }));
    const bad = tep(["--config", file, "--check-config"]);
    assert.equal(bad.status, 78);
    for (
      const p of ["mtu", "colour", "server", "credentials", "address", "ipv4", "clientPrefixes"]
    ) {
      assert.match(bad.stderr, new RegExp(`config: ${p}: `), p);
    }
    assert.doesNotMatch(bad.stderr, /secret/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("tep cli: help teaches the commands; ctl without a daemon says so", () => {
  const h = tep(["--help"]);
  assert.equal(h.status, 0);
  for (
    const w of [
      "ctl status",
      "ctl bindings",
      "ctl stats",
      "cleanup",
      "--binding-ttl-max",
      "--query-rate",
    ]
  ) {
    assert.ok(h.stdout.includes(w), w);
  }
  const c = tep([
    "ctl",
    "stats",
    "--control",
    path.join(os.tmpdir(), `no-such-${process.pid}.sock`),
  ]);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /is the daemon running/);
  assert.equal(tep(["ctl", "frobnicate"]).status, 2);
  assert.equal(tep(["launch"]).status, 2);
});
