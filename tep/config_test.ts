import { test } from "node:test";
import assert from "node:assert/strict";
import type { FlagValues } from "../lib/cli/command.ts";
import { type ConfigFs, DEFAULT_CONTROL, loadLocalConfig, loadTepConfig } from "./config.ts";

function memFs(files: Record<string, string>): ConfigFs {
  return {
    readFile: (p) => {
      if (!(p in files)) throw new Error(`ENOENT: ${p}`);
      return files[p];
    },
    isFile: (p) => p in files,
  };
}

const FLAGS: FlagValues = {
  server: "[2001:db8:1::1]:3653",
  credentials: "tep1:secret",
  address: "2001:db8:ffff::1",
  ipv4: "192.0.2.1",
  pool: "198.51.100.0/24",
  "client-prefix": ["2001:db8:100::/48"],
};

test("tep config: flags alone give a complete configuration with the defaults", () => {
  const r = loadTepConfig(FLAGS, memFs({}));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  const c = r.config;
  assert.equal(c.name, "tep1", "the name defaults to the credentials' user");
  assert.equal(c.password, "secret");
  assert.deepEqual(c.server, { host: "2001:db8:1::1", family: 6, port: 3653 });
  assert.equal(c.interface, "dstm-tep0");
  assert.equal(c.control, DEFAULT_CONTROL);
  assert.equal(c.mtu, 1500);
  assert.equal(c.dataPlane.bindingTtlMaxMs, 600_000);
  assert.equal(c.dataPlane.refreshAheadMs, 60_000);
  assert.equal(c.dataPlane.scheduler.globalRate.ratePerSec, 100);
  assert.deepEqual(c.backoff, { initialMs: 1000, maxMs: 30_000 });
  assert.equal(c.dataPlane.forward.tunnelIpv6, "2001:db8:ffff::1");
});

test("tep config: the file is read, flags win, unknown keys are rejected", () => {
  const file = {
    server: "[2001:db8:1::9]:4000",
    name: "tep1",
    credentials: "/etc/dstm/tep1.cred",
    address: "2001:db8:ffff::1",
    ipv4: "192.0.2.1",
    pool: "198.51.100.0/24",
    clientPrefixes: ["2001:db8:100::/48", "2001:db8:200::/48"],
    mtu: 1400,
    bindingTtlMaxSeconds: 300,
    query: { ratePerSec: 20, queuePerAddress: 2 },
    forwarding: { hairpin: false, icmp: { bindingFailure: true } },
  };
  const fs = memFs({
    "/etc/dstm/tep.json": JSON.stringify(file),
    "/etc/dstm/tep1.cred": "# TEP credentials\ntep1:file-secret\n",
  });
  const r = loadTepConfig({ config: "/etc/dstm/tep.json", "query-rate": "7" }, fs);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  assert.equal(r.config.server.port, 4000);
  assert.equal(r.config.password, "file-secret");
  assert.equal(r.config.mtu, 1400);
  assert.equal(r.config.clientPrefixes.length, 2);
  assert.equal(r.config.dataPlane.bindingTtlMaxMs, 300_000);
  assert.equal(r.config.dataPlane.scheduler.globalRate.ratePerSec, 7, "the flag wins");
  assert.equal(r.config.dataPlane.scheduler.queuePerAddress, 2);
  assert.equal(r.config.dataPlane.forward.hairpin, false);
  assert.deepEqual(r.config.dataPlane.forward.icmp, { bindingFailure: true });

  const bad = memFs({ "/t.json": JSON.stringify({ ...file, colour: "blue", query: { rate: 1 } }) });
  const r2 = loadTepConfig({ config: "/t.json" }, bad);
  assert.ok(!r2.ok);
  const paths = r2.issues.map((i) => i.path);
  assert.ok(paths.includes("colour"), paths.join());
  assert.ok(paths.includes("query.rate"), paths.join());
});

test("tep config: every issue is reported with its path", () => {
  const r = loadTepConfig({
    server: "[2001:db8:1::1]:99999",
    credentials: "tep2:pw",
    name: "tep1",
    address: "not-an-address",
    pool: "198.51.100.0/33",
    "client-prefix": ["2001:db8:100::/48"],
    interface: "a.b",
    "binding-ttl-max": "0",
  }, memFs({}));
  assert.ok(!r.ok);
  const paths = r.issues.map((i) => i.path).sort();
  assert.deepEqual(paths, [
    "--address",
    "--binding-ttl-max",
    "--credentials",
    "--interface",
    "--pool",
    "--server",
    "ipv4",
  ]);
  assert.match(r.issues.find((i) => i.path === "--credentials")!.message, /not the TEP name tep1/);
});

test("tep config: address relations are checked by the forwarding core", () => {
  const r = loadTepConfig({ ...FLAGS, ipv4: "198.51.100.1" }, memFs({}));
  assert.ok(!r.ok);
  assert.deepEqual(r.issues.map((i) => i.path), ["ipv4"]);
  assert.match(r.issues[0].message, /inside the pool/);
  const r2 = loadTepConfig({ ...FLAGS, address: "2001:db8:100::1" }, memFs({}));
  assert.ok(!r2.ok);
  assert.deepEqual(r2.issues.map((i) => i.path), ["address"]);
  assert.match(r2.issues[0].message, /inside the client prefix/);
});

test("tep config: ctl and cleanup need only the interface and control socket", () => {
  assert.deepEqual(loadLocalConfig({}, memFs({})), {
    interface: "dstm-tep0",
    control: DEFAULT_CONTROL,
    pool: undefined,
    address: undefined,
  });
  const fs = memFs({ "/t.json": JSON.stringify({ interface: "tepx", control: "/run/x.sock" }) });
  assert.equal(loadLocalConfig({ config: "/t.json" }, fs).interface, "tepx");
  assert.equal(loadLocalConfig({ config: "/t.json", control: "/c" }, fs).control, "/c");
  assert.throws(() => loadLocalConfig({ interface: "x".repeat(16) }, fs), { name: "ConfigError" });
});
