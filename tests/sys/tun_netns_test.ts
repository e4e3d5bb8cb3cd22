import { test } from "node:test";
import assert from "node:assert/strict";
import {
  here,
  ipJson,
  NEEDS_ROOT,
  Probe,
  runtimeArgv,
  sh,
  uniqueNs,
  withNamespaces,
} from "./netns.ts";

const TUN_CONFIG = {
  name: "dtun0",
  mtu: 1400,
  addresses: [
    { address: "10.200.0.1", prefixLength: 24 },
    { address: "2001:db8:200::1", prefixLength: 64, noDad: true },
  ],
};

function ping(ns: string, args: string[]): void {
  sh("ip", ["netns", "exec", ns, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", ...args]);
}

test(
  "sys netns: a Worker poll loop answers IPv4 and IPv6 pings through the TUN",
  { skip: NEEDS_ROOT },
  async () => {
    await withNamespaces([uniqueNs("tw")], async (ns) => {
      const probe = new Probe(ns, runtimeArgv(here("probe_tun.ts"), [JSON.stringify(TUN_CONFIG)]));
      const ready = await probe.next<{ name: string; runtime: string }>("ready");
      assert.equal(ready.name, "dtun0");
      ping(ns, ["10.200.0.2"]);
      ping(ns, ["-6", "2001:db8:200::2"]);
      probe.send("stop");
      const done = await probe.next<{ answered: number }>("done");
      assert.equal(done.answered, 4);
      assert.equal(await probe.finish(), 0);
    });
  },
);

test(
  "sys netns: PolledTunDevice answers pings on the event loop without blocking it",
  { skip: NEEDS_ROOT },
  async () => {
    await withNamespaces([uniqueNs("tp")], async (ns) => {
      const probe = new Probe(
        ns,
        runtimeArgv(here("probe_polled_tun.ts"), [JSON.stringify(TUN_CONFIG)]),
      );
      await probe.next("ready");
      ping(ns, ["10.200.0.2"]);
      ping(ns, ["-6", "2001:db8:200::2"]);
      probe.send("stop");
      const done = await probe.next<{ answered: number; ticks: number }>("done");
      assert.equal(done.answered, 4);
      assert.ok(done.ticks >= 10, `timer ticked ${done.ticks} times`);
      assert.equal(await probe.finish(), 0);
    });
  },
);

test(
  "sys netns: one TUN carries the TEP's IPv6 /128 and the IPv4 pool, forwarded by the kernel",
  { skip: NEEDS_ROOT },
  async () => {
    const names = [uniqueNs("tt"), uniqueNs("t6"), uniqueNs("t4")];
    await withNamespaces(names, async (tep, side6, side4) => {
      // side6 (IPv6-only domain) -- tep -- side4 (IPv4 world)
      sh("ip", ["link", "add", "v6a", "netns", tep, "type", "veth", "peer", "v6b", "netns", side6]);
      sh("ip", ["link", "add", "v4a", "netns", tep, "type", "veth", "peer", "v4b", "netns", side4]);
      for (
        const [ns, args] of [
          [tep, ["-6", "addr", "add", "2001:db8:1::1/64", "dev", "v6a", "nodad"]],
          [side6, ["-6", "addr", "add", "2001:db8:1::2/64", "dev", "v6b", "nodad"]],
          [tep, ["addr", "add", "192.0.2.1/24", "dev", "v4a"]],
          [side4, ["addr", "add", "192.0.2.2/24", "dev", "v4b"]],
          [tep, ["link", "set", "v6a", "up"]],
          [tep, ["link", "set", "v4a", "up"]],
          [side6, ["link", "set", "v6b", "up"]],
          [side4, ["link", "set", "v4b", "up"]],
          [side6, ["-6", "route", "add", "2001:db8:ffff::/48", "via", "2001:db8:1::1"]],
          [side4, ["route", "add", "default", "via", "192.0.2.1"]],
        ] as [string, string[]][]
      ) sh("ip", ["-n", ns, ...args]);
      const cfg = {
        name: "dtep0",
        routes: [{ dst: "2001:db8:ffff::1/128" }, { dst: "198.51.100.0/24" }],
        forwarding: true,
      };
      const probe = new Probe(tep, runtimeArgv(here("probe_tun.ts"), [JSON.stringify(cfg)]));
      await probe.next("ready");
      assert.equal(
        sh("ip", ["netns", "exec", tep, "sysctl", "-n", "net.ipv4.ip_forward"]).trim(),
        "1",
      );
      ping(side6, ["-6", "2001:db8:ffff::1"]);
      ping(side4, ["198.51.100.7"]);
      probe.send("stop");
      const done = await probe.next<{ answered: number }>("done");
      assert.equal(done.answered, 4);
      assert.equal(await probe.finish(), 0);
    });
  },
);

test(
  "sys netns: openTun attaches to a persistent TUN, and a second fd on it is EBUSY",
  { skip: NEEDS_ROOT },
  async () => {
    await withNamespaces([uniqueNs("ta")], async (ns) => {
      sh("ip", ["-n", ns, "tuntap", "add", "dev", "ptun0", "mode", "tun"]);
      const cfg = (keepOpen: boolean) =>
        JSON.stringify({ tun: "ptun0", keepOpen, ops: [{ call: "getLink", args: ["ptun0"] }] });
      const first = new Probe(ns, runtimeArgv(here("probe_netlink.ts"), [cfg(true)]));
      assert.equal((await first.next<{ tun: string }>("ready")).tun, "ptun0");
      const link = await first.next<{ ok: boolean; value: { kind: string } }>("result");
      assert.equal(link.value.kind, "tun");
      const second = new Probe(ns, runtimeArgv(here("probe_netlink.ts"), [cfg(false)]));
      await assert.rejects(second.next("ready"), /"code":"EBUSY"/);
      assert.equal(await second.finish(), 1);
      first.send("stop");
      assert.equal(await first.finish(), 0);
      // Persistent: still there after our fd closed.
      assert.equal(ipJson<unknown[]>(ns, "link", "show", "ptun0").length, 1);
    });
  },
);
