/**
 * The compiled `dist/dstm-server` (built by `bash scripts/build.sh`, which `npm test` runs
 * first) serves leases with flags like the README example, and `dstm-server ctl leases` lists
 * them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { allocationRequest, readAllocationInfo } from "../../lib/tsp/mod.ts";
import { CREDENTIALS, USERS } from "./_harness.ts";
import { freePort, ROOT, type ServerProcess, spawnProcess } from "./_process.ts";
import { tspOnce, TspTestPeer } from "./tsp_test_client.ts";

const BIN = path.join(ROOT, "dist", "dstm-server");

test("server binary: dist/dstm-server runs as in the README and ctl leases shows its leases", async () => {
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: run 'bash scripts/build.sh' (npm test does)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-bin-srv-"));
  let p: ServerProcess | undefined;
  try {
    fs.writeFileSync(path.join(dir, "users"), CREDENTIALS);
    const port = await freePort("::1");
    const control = path.join(dir, "dstm-server.sock");
    p = spawnProcess(BIN, [
      "--pool",
      "198.51.100.0/24",
      "--tep",
      "tep1,2001:db8:ffff::1,192.0.2.1",
      "--tep",
      "tep2,2001:db8:ffff::2,192.0.2.2",
      "--credentials",
      path.join(dir, "users"),
      "--state-dir",
      path.join(dir, "state"),
      "--listen",
      `[::1]:${port}`,
      "--control",
      control,
      "--dns-server",
      "2001:db8::53",
    ]);
    await p.waitFor(/ server\.started .*runtime="bun /);
    const tep = await TspTestPeer.connect({
      host: "::1",
      port,
      mechanism: "DIGEST-MD5",
      user: "tep1",
      pass: USERS.tep1,
    });
    const alice = {
      host: "::1",
      port,
      mechanism: "DIGEST-MD5" as const,
      user: "alice",
      pass: USERS.alice,
    };
    const a = readAllocationInfo(
      (await tspOnce(alice, allocationRequest("2001:db8:100::10"))).message!,
    )!;
    const b = readAllocationInfo(
      (await tspOnce({ ...alice, transport: "udp" }, allocationRequest("2001:db8:100::11")))
        .message!,
    )!;
    await tep.waitForPush((m) => m.action === "create");

    const text = spawnSync(BIN, ["ctl", "leases", "--control", control], { encoding: "utf8" });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^IPV4 +CLIENT IPV6 +IDENTITY +TEP/);
    assert.match(
      text.stdout,
      new RegExp(`^${a.ipv4.replace(/\./g, "\\.")} +2001:db8:100::10 +alice +tep1 `, "m"),
    );
    assert.match(
      text.stdout,
      new RegExp(`^${b.ipv4.replace(/\./g, "\\.")} +2001:db8:100::11 +alice `, "m"),
    );
    assert.match(text.stdout, /2 leases, 0 addresses in quarantine/);
    const json = spawnSync(BIN, ["ctl", "leases", "--json", "--control", control], {
      encoding: "utf8",
    });
    assert.equal(json.status, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { leases: unknown[] }).leases.length, 2);
    const teps = spawnSync(BIN, ["ctl", "teps", "--control", control], { encoding: "utf8" });
    assert.match(teps.stdout, /^tep1 +up /m);

    await tep.close();
    p.signal("SIGTERM");
    assert.equal(await p.exited, 0);
  } finally {
    p?.signal("SIGKILL"); // only if still running (a failed assertion)
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
