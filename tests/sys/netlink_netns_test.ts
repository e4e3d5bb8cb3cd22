import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeNetlink } from "../../lib/sys/fake_netlink.ts";
import type { NetlinkApi } from "../../lib/sys/netlink_api.ts";
import { SysError } from "../../lib/sys/sys_error.ts";
import { here, ipJson, NEEDS_ROOT, Probe, runtimeArgv, uniqueNs, withNamespaces } from "./netns.ts";

interface Op {
  call: keyof NetlinkApi;
  args: unknown[];
}
interface Result {
  i: number;
  ok: boolean;
  code?: string;
  message?: string;
  permissionDenied?: boolean;
  value?: unknown;
}

/** Run `ops` in a probe inside `ns` (with an optional command prefix) and collect results. */
async function runOps(
  ns: string,
  cfg: { tun?: string; ops: Op[]; keepOpen?: boolean },
  prefix: string[] = [],
): Promise<{ probe: Probe; results: Result[] }> {
  const probe = new Probe(ns, [
    ...prefix,
    ...runtimeArgv(here("probe_netlink.ts"), [JSON.stringify(cfg)]),
  ]);
  await probe.next("ready");
  const results: Result[] = [];
  for (let i = 0; i < cfg.ops.length; i++) results.push(await probe.next<Result>("result"));
  await probe.next("done");
  return { probe, results };
}

test(
  "sys netns: a TUN configured over rtnetlink shows in ip -j addr and ip -j route",
  { skip: NEEDS_ROOT },
  async () => {
    await withNamespaces([uniqueNs("nl")], async (ns) => {
      const ops: Op[] = [
        { call: "setLink", args: ["dtun0", { up: true, mtu: 1400 }] },
        { call: "addAddress", args: [{ dev: "dtun0", address: "10.200.0.1", prefixLength: 24 }] },
        {
          call: "addAddress",
          args: [{ dev: "dtun0", address: "2001:db8:200::1", prefixLength: 64, noDad: true }],
        },
        { call: "addRoute", args: [{ dst: "198.51.100.0/24", dev: "dtun0" }] },
        { call: "addRoute", args: [{ dst: "2001:db8:ffff::1/128", dev: "dtun0" }] },
        {
          call: "addRoute",
          args: [{ dst: "10.4.0.0/16", gateway: "10.200.0.254", table: 1000, metric: 9 }],
        },
        { call: "replaceRoute", args: [{ dst: "10.3.0.0/16", type: "blackhole" }] },
        { call: "getLink", args: ["dtun0"] },
        { call: "listAddresses", args: [{ dev: "dtun0" }] },
        { call: "listRoutes", args: [{ dev: "dtun0" }] },
      ];
      const { probe, results } = await runOps(ns, { tun: "dtun0", ops, keepOpen: true });
      try {
        for (const r of results) assert.equal(r.ok, true, JSON.stringify(r));

        const [link] = ipJson<{ ifname: string; mtu: number; flags: string[] }[]>(
          ns,
          "link",
          "show",
          "dtun0",
        );
        assert.equal(link.mtu, 1400);
        assert.ok(link.flags.includes("UP"));
        const [addr] = ipJson<
          { addr_info: { family: string; local: string; prefixlen: number }[] }[]
        >(
          ns,
          "addr",
          "show",
          "dev",
          "dtun0",
        );
        const global = addr.addr_info.filter((a) => !a.local.startsWith("fe80"));
        assert.deepEqual(global.map((a) => `${a.family} ${a.local}/${a.prefixlen}`), [
          "inet 10.200.0.1/24",
          "inet6 2001:db8:200::1/64",
        ]);
        const v4 = ipJson<{ dst: string; dev?: string; type?: string; gateway?: string }[]>(
          ns,
          "-4",
          "route",
          "show",
          "table",
          "all",
        );
        assert.ok(v4.some((r) => r.dst === "198.51.100.0/24" && r.dev === "dtun0"));
        assert.ok(v4.some((r) => r.dst === "10.4.0.0/16" && r.gateway === "10.200.0.254"));
        assert.ok(v4.some((r) => r.dst === "10.3.0.0/16" && r.type === "blackhole"));
        const v6 = ipJson<{ dst: string; dev?: string }[]>(ns, "-6", "route", "show");
        assert.ok(v6.some((r) => r.dst === "2001:db8:ffff::1" && r.dev === "dtun0"));

        // Our own read-back agrees with ip.
        const got = results[7].value as { mtu: number; up: boolean; kind: string };
        assert.deepEqual([got.mtu, got.up, got.kind], [1400, true, "tun"]);
        const addrs = results[8].value as { address: string; prefixLength: number }[];
        for (const a of global) {
          assert.ok(addrs.some((x) => x.address === a.local && x.prefixLength === a.prefixlen));
        }
        const routes = results[9].value as { dst: string; table: number; metric?: number }[];
        const dsts = routes.map((r) => `${r.table} ${r.dst}`);
        for (const d of ["254 198.51.100.0/24", "254 2001:db8:ffff::1/128", "1000 10.4.0.0/16"]) {
          assert.ok(dsts.includes(d), `${d} in ${dsts.join(", ")}`);
        }
        probe.send("stop");
        assert.equal(await probe.finish(), 0);
      } finally {
        await probe.finish();
      }
    });
  },
);

/** A sequence whose every step fails (or not) the same way in the kernel and in the fake. */
const ERROR_OPS: Op[] = [
  { call: "addRoute", args: [{ dst: "198.51.100.0/24", dev: "dtun0" }] }, // link down
  { call: "setLink", args: ["dtun0", { up: true }] },
  { call: "setLink", args: ["dtun0", { mtu: 20 }] },
  { call: "addAddress", args: [{ dev: "dtun0", address: "10.200.0.1", prefixLength: 24 }] },
  { call: "addAddress", args: [{ dev: "dtun0", address: "10.200.0.1", prefixLength: 24 }] },
  { call: "addAddress", args: [{ dev: "nosuch0", address: "10.200.0.1", prefixLength: 24 }] },
  {
    call: "addAddress",
    args: [{ dev: "dtun0", address: "2001:db8:200::1", prefixLength: 64, noDad: true }],
  },
  {
    call: "addAddress",
    args: [{ dev: "dtun0", address: "2001:db8:200::1", prefixLength: 80, noDad: true }],
  },
  { call: "deleteAddress", args: [{ dev: "dtun0", address: "10.200.0.9", prefixLength: 24 }] },
  { call: "addRoute", args: [{ dst: "198.51.100.0/24", dev: "dtun0" }] },
  { call: "addRoute", args: [{ dst: "198.51.100.0/24", dev: "dtun0" }] },
  { call: "addRoute", args: [{ dst: "198.51.100.0/24", dev: "dtun0", metric: 5 }] },
  { call: "addRoute", args: [{ dst: "10.9.0.0/16", dev: "nosuch0" }] },
  { call: "addRoute", args: [{ dst: "10.9.0.0/16", gateway: "10.99.0.1" }] },
  { call: "addRoute", args: [{ dst: "10.9.0.0/16", gateway: "10.200.0.254" }] },
  { call: "deleteRoute", args: [{ dst: "10.8.0.0/16" }] },
  { call: "deleteRoute", args: [{ dst: "198.51.100.0/24", dev: "dtun0", metric: 5 }] },
  { call: "deleteRoute", args: [{ dst: "198.51.100.0/24", dev: "dtun0", metric: 5 }] },
  { call: "getLink", args: ["nosuch0"] },
  { call: "deleteLink", args: ["nosuch0"] },
];

async function fakeCodes(ops: Op[]): Promise<string[]> {
  const nl = new FakeNetlink();
  nl.addLink("dtun0");
  const out: string[] = [];
  for (const op of ops) {
    try {
      await (nl[op.call] as (...a: unknown[]) => Promise<unknown>).apply(nl, op.args);
      out.push("ok");
    } catch (e) {
      out.push(e instanceof SysError ? e.code : String(e));
    }
  }
  return out;
}

test(
  "sys netns: kernel errors map to SysError codes, and the fake fails the same way",
  { skip: NEEDS_ROOT },
  async () => {
    await withNamespaces([uniqueNs("ne")], async (ns) => {
      const { probe, results } = await runOps(ns, { tun: "dtun0", ops: ERROR_OPS });
      assert.equal(await probe.finish(), 0);
      const kernel = results.map((r) => (r.ok ? "ok" : r.code!));
      assert.deepEqual(kernel, [
        "ENETDOWN",
        "ok",
        "EINVAL",
        "ok",
        "EEXIST",
        "ENODEV",
        "ok",
        "EEXIST",
        "EADDRNOTAVAIL",
        "ok",
        "EEXIST",
        "ok",
        "ENODEV",
        "ENETUNREACH",
        "ok",
        "ESRCH",
        "ok",
        "ESRCH",
        "ENODEV",
        "ENODEV",
      ]);
      assert.deepEqual(await fakeCodes(ERROR_OPS), kernel);
      const dup = results[4];
      assert.match(
        dup.message!,
        /^add address 10\.200\.0\.1\/24 dev dtun0: EEXIST \(File exists\)/,
      );
      assert.match(results[5].message!, /dev nosuch0: ENODEV \(No such device\)/);
    });
  },
);

test(
  "sys netns: without CAP_NET_ADMIN, TUN and rtnetlink changes fail with EPERM naming it",
  { skip: NEEDS_ROOT },
  async () => {
    await withNamespaces([uniqueNs("np")], async (ns) => {
      const drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"];
      const ops: Op[] = [
        { call: "listLinks", args: [] },
        { call: "setLink", args: ["lo", { up: false }] },
        { call: "addAddress", args: [{ dev: "lo", address: "10.9.9.9", prefixLength: 32 }] },
        { call: "addRoute", args: [{ dst: "10.8.0.0/16", type: "blackhole" }] },
      ];
      const { probe, results } = await runOps(ns, { ops }, drop);
      assert.equal(await probe.finish(), 0);
      assert.equal(results[0].ok, true);
      for (const r of results.slice(1)) {
        assert.equal(r.ok, false);
        assert.equal(r.code, "EPERM");
        assert.equal(r.permissionDenied, true);
        assert.match(r.message!, /needs CAP_NET_ADMIN/);
      }
      // Creating a TUN needs the capability too.
      const tun = new Probe(ns, [
        ...drop,
        ...runtimeArgv(here("probe_netlink.ts"), [JSON.stringify({ tun: "dtun0", ops: [] })]),
      ]);
      await assert.rejects(tun.next("ready"), /"code":"EPERM".*CAP_NET_ADMIN/);
      assert.equal(await tun.finish(), 1);
    });
  },
);
