/**
 * `dstm-server` as a real child process: `--check-config` exit codes, SIGHUP reload, SIGTERM
 * graceful stop, and crash safety: SIGKILL at random points during a burst of allocations,
 * restart, and every lease a client saw is still there, no address twice.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { spawnSync } from "node:child_process";
import { allocationRequest, readAllocationInfo } from "../../lib/tsp/mod.ts";
import { callControl } from "../../lib/sys/control_socket.ts";
import { Prng } from "../../lib/testing/prng.ts";
import { CREDENTIALS, TEPS } from "./_harness.ts";
import { freePort, ROOT, serverCommand, type ServerProcess, spawnProcess } from "./_process.ts";
import { TspTestPeer } from "./tsp_test_client.ts";

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "dstm-proc-"));
}

test("server process: --check-config exits 0, or 78 listing every issue with its path", () => {
  const dir = tempDir();
  try {
    fs.writeFileSync(path.join(dir, "users"), CREDENTIALS);
    fs.writeFileSync(
      path.join(dir, "good.json"),
      JSON.stringify({ pool: "198.51.100.0/24", teps: TEPS, credentials: path.join(dir, "users") }),
    );
    fs.writeFileSync(
      path.join(dir, "bad.json"),
      JSON.stringify({
        pool: "198.51.100.1/24",
        teps: [{ name: "tep1", ipv6: "2001:db8:ffff::x", ipv4: "192.0.2.1" }],
        lifetimeMinutes: 0,
        colour: "blue",
      }),
    );
    const { cmd, args } = serverCommand();
    const good = spawnSync(cmd, [
      ...args,
      "--config",
      path.join(dir, "good.json"),
      "--check-config",
    ], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /configuration OK/);
    const bad = spawnSync(
      cmd,
      [...args, "--config", path.join(dir, "bad.json"), "--check-config"],
      {
        cwd: ROOT,
        encoding: "utf8",
      },
    );
    assert.equal(bad.status, 78);
    for (const p of ["pool", "teps[0].ipv6", "lifetimeMinutes", "colour", "credentials"]) {
      assert.match(bad.stdout, new RegExp(`^${p.replace(/[[\]]/g, "\\$&")}: `, "m"));
    }
    const start = spawnSync(cmd, [...args, "--config", path.join(dir, "bad.json")], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(start.status, 78, "starting with a bad config exits 78 too");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function configFile(dir: string, port: number, extra: Record<string, unknown> = {}): string {
  fs.writeFileSync(path.join(dir, "users"), CREDENTIALS);
  const file = path.join(dir, "server.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      listen: [`[::1]:${port}`],
      pool: "198.51.96.0/20",
      teps: TEPS,
      credentials: path.join(dir, "users"),
      allowAnonymous: true,
      dnsServer: "2001:db8::53",
      stateDir: path.join(dir, "state"),
      control: path.join(dir, "control.sock"),
      ...extra,
    }),
  );
  return file;
}

test("server process: SIGHUP reloads (and keeps a bad file out), SIGTERM stops gracefully", async () => {
  const dir = tempDir();
  let stop: ServerProcess | undefined;
  try {
    const port = await freePort("::1");
    const file = configFile(dir, port);
    const { cmd, args } = serverCommand();
    const p = spawnProcess(cmd, [...args, "--config", file]);
    stop = p;
    await p.waitFor(/ server\.started /);
    const conf = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify({ ...conf, lifetimeMinutes: 45 }));
    p.signal("SIGHUP");
    await p.waitFor(/ config\.reloaded /);
    const peer = await TspTestPeer.connect({ host: "::1", port, mechanism: "ANONYMOUS" });
    const r = await peer.command(allocationRequest("2001:db8:300::1"));
    assert.equal(readAllocationInfo(r.message!)!.lifetime, 45);
    await peer.close();
    fs.writeFileSync(file, JSON.stringify({ ...conf, lifetimeMinutes: -1 }));
    p.signal("SIGHUP");
    await p.waitFor(/ config\.reload-failed .*lifetimeMinutes/);
    p.signal("SIGTERM");
    assert.equal(await p.exited, 0);
    assert.ok(p.lines.some((l) => / server\.stopped /.test(l)));
    assert.ok(!fs.existsSync(path.join(dir, "control.sock")), "control socket removed");
    assert.ok(!fs.existsSync(path.join(dir, "state", "lock")), "lock released");
  } finally {
    stop?.signal("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

interface Seen {
  ipv4: string;
  ipv6: string;
}

/** Allocate as fast as possible from `workers` sessions until they fail (the server dies). */
async function burst(port: number, round: number, workers: number, seen: Seen[]): Promise<void> {
  let n = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    let peer: TspTestPeer;
    try {
      peer = await TspTestPeer.connect({ host: "::1", port, mechanism: "ANONYMOUS" });
    } catch {
      return;
    }
    try {
      for (;;) {
        const ipv6 = `2001:db8:200:${round}::${(++n).toString(16)}`;
        const r = await peer.command(allocationRequest(ipv6));
        if (r.status.code !== 200) throw new Error(`status ${r.status.code}`);
        seen.push({ ipv4: readAllocationInfo(r.message!)!.ipv4, ipv6 });
      }
    } catch {
      // the server was killed
    } finally {
      peer.destroy();
    }
  }));
}

test("server process: SIGKILL during a burst of allocations loses no acknowledged lease", async () => {
  const dir = tempDir();
  const rng = new Prng(0x5eed_0003);
  const seen: Seen[] = [];
  const children: ServerProcess[] = [];
  try {
    const port = await freePort("::1");
    const file = configFile(dir, port);
    const { cmd, args } = serverCommand();
    let killedWith = 0;
    for (let round = 1; round <= 3; round++) {
      const p = spawnProcess(cmd, [...args, "--config", file]);
      children.push(p);
      await p.waitFor(/ server\.started /);
      const before = seen.length;
      const running = burst(port, round, 8, seen);
      // kill at a random point: after 100-600 ms of traffic, or once a random number of leases
      const delay = 100 + rng.int(500);
      await new Promise((r) => setTimeout(r, delay));
      p.signal("SIGKILL");
      killedWith++;
      assert.equal(await p.exited, "SIGKILL");
      await running;
      assert.ok(seen.length > before, `round ${round}: some leases were acknowledged`);
      if (process.env.DSTM_TEST_LOG) {
        console.error(`round ${round}: ${seen.length - before} acknowledged`);
      }
    }
    // restart and check what survived, through the real `ctl leases --json`
    const p = spawnProcess(cmd, [...args, "--config", file]);
    children.push(p);
    await p.waitFor(/ server\.started /);
    assert.ok(p.lines.some((l) => / store\.opened .*leases=\d+/.test(l)));
    const ctl = spawnSync(cmd, [...args, "ctl", "leases", "--json", "--config", file], {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 256 << 20, // a fast server leases more than the default 1 MiB of JSON holds
    });
    assert.equal(ctl.status, 0, ctl.stderr);
    const leases = (JSON.parse(ctl.stdout) as { leases: { ipv4: string; clientIpv6: string }[] })
      .leases;
    const byIpv4 = new Map<string, string>();
    for (const l of leases) {
      assert.ok(!byIpv4.has(l.ipv4), `${l.ipv4} leased twice`);
      byIpv4.set(l.ipv4, l.clientIpv6);
    }
    const v6s = new Set(leases.map((l) => l.clientIpv6));
    assert.equal(v6s.size, leases.length, "one lease per client address");
    for (const s of seen) {
      assert.equal(
        byIpv4.get(s.ipv4),
        s.ipv6,
        `acknowledged lease ${s.ipv4} -> ${s.ipv6} survives`,
      );
    }
    assert.ok(leases.length >= seen.length);
    assert.equal(killedWith, 3);
    const status = await callControl(path.join(dir, "control.sock"), { command: "status" });
    assert.equal(status.result, 0);
    p.signal("SIGTERM");
    assert.equal(await p.exited, 0);
  } finally {
    for (const c of children) c.signal("SIGKILL"); // only those still running
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
