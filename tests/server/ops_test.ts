/**
 * Operations in-process: reload (SIGHUP semantics), the control channel (`ctl` text and JSON)
 * and the Prometheus endpoint.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { allocationRequest, readAllocationInfo, renewalRequest } from "../../lib/tsp/mod.ts";
import { callControl } from "../../lib/sys/control_socket.ts";
import {
  BASE_FILE,
  clientIpv6,
  CREDENTIALS,
  setConfigFile,
  startTestServer,
  TEPS,
  until,
  USERS,
} from "./_harness.ts";
import { tspOnce, TspTestPeer } from "./tsp_test_client.ts";

test("server reload: new lifetime, limits, users and log level apply; restart-only keys are kept", async () => {
  const s = await startTestServer();
  try {
    setConfigFile(s, {
      ...BASE_FILE,
      lifetimeMinutes: 30,
      logLevel: "warn",
      pool: "198.51.100.0/24",
      credentials: "users2",
    }, { users2: CREDENTIALS + "carol:carol-secret:client\n" });
    const r = s.daemon.reload();
    assert.equal(r.ok, true);
    assert.deepEqual(r.restartNeeded, ["pool"]);
    assert.equal(s.events("config.restart-needed").length, 1);
    assert.equal(s.daemon.config.pool, "198.51.100.0/28", "the pool needs a restart");
    const before = s.logs.length;
    const a = await tspOnce(
      s.peer({ mechanism: "DIGEST-MD5", user: "carol", pass: "carol-secret" }),
      allocationRequest(clientIpv6(1)),
    );
    assert.equal(readAllocationInfo(a.message!)!.lifetime, 30);
    assert.equal(
      s.logs.slice(before).filter((l) => / (INFO|DEBUG) /.test(l)).length,
      0,
      "log level warn",
    );
  } finally {
    await s.stop();
  }
});

test("server reload: new lease limits apply to new leases; leases already held stay and renew", async () => {
  const s = await startTestServer();
  const alice = { mechanism: "DIGEST-MD5" as const, user: "alice", pass: USERS.alice };
  try {
    const code = async (o: Parameters<typeof s.peer>[0], i: number) =>
      (await tspOnce(s.peer(o), allocationRequest(clientIpv6(i)))).status.code;
    assert.equal(await code(alice, 60), 200);
    assert.equal(await code(alice, 61), 200);
    assert.equal(await code({}, 60), 301, "one lease per IPv6 address (default)");
    setConfigFile(s, { ...BASE_FILE, maxLeasesPerIdentity: 1, maxLeasesPerIpv6: 2 });
    assert.equal(s.daemon.reload().ok, true);
    assert.equal(await code(alice, 62), 301, "alice is over the new identity limit");
    assert.equal(await code(alice, 60), 200, "a held lease renews");
    assert.equal(await code({}, 60), 200, "two leases per IPv6 address now");
    assert.equal(s.daemon.counters.get("lease_refusals_total", ["limit-identity"]), 1);
    assert.equal(s.daemon.counters.get("lease_refusals_total", ["limit-ipv6"]), 1);
    assert.equal(s.daemon.service.leases().leases.length, 3);
  } finally {
    await s.stop();
  }
});

test("server reload: a bad configuration is refused and the old one stays", async () => {
  const s = await startTestServer();
  try {
    setConfigFile(s, { ...BASE_FILE, lifetimeMinutes: 0, colour: "blue" });
    const r = s.daemon.reload();
    assert.equal(r.ok, false);
    const paths = r.issues.map((i) => i.path).sort();
    assert.deepEqual(paths, ["colour", "lifetimeMinutes"]);
    assert.equal(s.events("config.reload-failed").length, 2);
    const a = await tspOnce(s.peer(), allocationRequest(clientIpv6(2)));
    assert.equal(readAllocationInfo(a.message!)!.lifetime, 1440);
    // a TEP whose IPv4 lies inside the pool changes the pool: refused as a whole
    setConfigFile(s, {
      ...BASE_FILE,
      teps: [...TEPS, { name: "tep3", ipv6: "2001:db8:ffff::3", ipv4: "198.51.100.9" }],
    });
    assert.equal(s.daemon.reload().ok, false);
  } finally {
    await s.stop();
  }
});

test("server reload: a TEP removed from the list loses its session; its leases move on renewal", async () => {
  const s = await startTestServer();
  const t2 = await TspTestPeer.connect({
    host: "::1",
    port: s.tcp6,
    mechanism: "DIGEST-MD5",
    user: "tep2",
    pass: USERS.tep2,
  });
  try {
    const a = readAllocationInfo(
      (await tspOnce(s.peer(), allocationRequest(clientIpv6(3)))).message!,
    )!;
    assert.equal(a.tepIpv6, "2001:db8:ffff::2");
    setConfigFile(s, { ...BASE_FILE, teps: [TEPS[0]] });
    assert.equal(s.daemon.reload().ok, true);
    await t2.whenEnded();
    assert.equal(s.events("tep.removed").length, 1);
    const r = await tspOnce(s.peer(), renewalRequest(clientIpv6(3), a.ipv4));
    const moved = readAllocationInfo(r.message!)!;
    assert.equal(moved.ipv4, a.ipv4);
    assert.equal(moved.tepIpv6, "2001:db8:ffff::1");
    assert.match(s.events("lease.failover")[0], /reason=tep-removed/);
  } finally {
    await t2.close();
    await s.stop();
  }
});

test("server ctl: status, leases, teps, stats as text and JSON; unknown commands", async () => {
  const s = await startTestServer();
  const t1 = await TspTestPeer.connect({
    host: "::1",
    port: s.tcp6,
    mechanism: "DIGEST-MD5",
    user: "tep1",
    pass: USERS.tep1,
  });
  try {
    const a = readAllocationInfo(
      (await tspOnce(s.peer(), allocationRequest(clientIpv6(4)))).message!,
    )!;
    const status = await callControl(s.control, { command: "status" });
    assert.equal(status.result, 0);
    assert.match(status.text, /pool: +198\.51\.100\.0\/28: 14 addresses, 1 leased/);
    assert.match(status.text, /teps: +1 of 2 up/);
    const leases = await callControl(s.control, { command: "leases" });
    assert.match(leases.text, /^IPV4 +CLIENT IPV6 +IDENTITY +TEP +EXPIRES +LEFT +ALSO AT\n/);
    assert.ok(leases.text.includes(`${a.ipv4} `));
    assert.match(leases.text, /\(anonymous\) +tep1/);
    const teps = await callControl(s.control, { command: "teps" });
    assert.match(teps.text, /tep1 +up +\S+ +tcp ::1/);
    assert.match(teps.text, /tep2 +down/);
    const stats = await callControl(s.control, { command: "stats" });
    assert.match(stats.text, /^requests_total\{action=create,code=200\} 1$/m);
    assert.match(stats.text, /^pushes_total\{kind=add\} 1$/m);
    const j = stats.arguments as Record<string, Record<string, number>>;
    assert.equal(j.lease_events_total["kind=allocate"], 1);
    const bad = await callControl(s.control, { command: "frobnicate" });
    assert.equal(bad.result, 2);
    const reload = await callControl(s.control, { command: "reload" });
    assert.equal(reload.result, 0);
  } finally {
    await t1.close();
    await s.stop();
  }
});

test("server metrics: /metrics in Prometheus text, 404 elsewhere", async () => {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const m = await startTestServer({ file: { metrics: `127.0.0.1:${port}` } });
  try {
    await tspOnce(m.peer(), allocationRequest(clientIpv6(5)));
    const get = (path: string) =>
      new Promise<{ code: number; body: string }>((resolve, reject) => {
        http.get({ host: "127.0.0.1", port, path }, (res) => {
          let body = "";
          res.on("data", (d) => body += d);
          res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
        }).on("error", reject);
      });
    const r = await get("/metrics");
    assert.equal(r.code, 200);
    assert.match(r.body, /^# HELP dstm_server_leases Live leases$/m);
    assert.match(r.body, /^dstm_server_leases 1$/m);
    assert.match(r.body, /^dstm_server_pool_addresses 14$/m);
    assert.match(r.body, /^dstm_server_requests_total\{action="create",code="200"\} 1$/m);
    assert.match(r.body, /^dstm_server_tep_up\{tep="tep1"\} 0$/m);
    assert.equal((await get("/")).code, 404);
  } finally {
    await m.stop();
  }
});

test("server reload: a user with role tep that is not in the TEP list is only a client", async () => {
  const s = await startTestServer();
  try {
    setConfigFile(s, { ...BASE_FILE, teps: [TEPS[1]] });
    assert.equal(s.daemon.reload().ok, true);
    const t1 = await TspTestPeer.connect({
      host: "::1",
      port: s.tcp6,
      mechanism: "DIGEST-MD5",
      user: "tep1",
      pass: USERS.tep1,
    });
    await until(() => s.events("tep.unknown").length === 1, 2000, "tep.unknown");
    await t1.close();
  } finally {
    await s.stop();
  }
});
