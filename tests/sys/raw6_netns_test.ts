import { test } from "node:test";
import assert from "node:assert/strict";
import {
  here,
  NEEDS_ROOT,
  pinNeighbors,
  Probe,
  runtimeArgv,
  sh,
  uniqueNs,
  withNamespaces,
} from "./netns.ts";

/** Two namespaces joined by a veth pair: a has 2001:db8:1::1, b has 2001:db8:1::2. */
function joinPair(a: string, b: string): void {
  sh("ip", ["link", "add", "va", "netns", a, "type", "veth", "peer", "vb", "netns", b]);
  sh("ip", ["-n", a, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "va", "nodad"]);
  sh("ip", ["-n", b, "-6", "addr", "add", "2001:db8:1::2/64", "dev", "vb", "nodad"]);
  sh("ip", ["-n", a, "link", "set", "va", "up"]);
  sh("ip", ["-n", b, "link", "set", "vb", "up"]);
  pinNeighbors({ ns: a, dev: "va", ip: "2001:db8:1::1" }, {
    ns: b,
    dev: "vb",
    ip: "2001:db8:1::2",
  });
}

test(
  "sys netns: raw IPIP sockets carry IPv4-in-IPv6 both ways, fragmenting large packets",
  { skip: NEEDS_ROOT },
  async () => {
    await withNamespaces([uniqueNs("ra"), uniqueNs("rb")], async (a, b) => {
      joinPair(a, b);
      const echo = new Probe(
        b,
        runtimeArgv(here("probe_ipip.ts"), [
          JSON.stringify({ mode: "echo", local: "2001:db8:1::2" }),
        ]),
      );
      await echo.next("ready");
      const sender = new Probe(
        a,
        runtimeArgv(here("probe_ipip.ts"), [
          JSON.stringify({
            mode: "send",
            local: "2001:db8:1::1",
            to: "2001:db8:1::2",
            // 3000 bytes: 3040 in IPv6 over a 1500-byte link, so the kernel fragments.
            sizes: [100, 1460, 3000],
          }),
        ]),
      );
      for (const size of [100, 1460, 3000]) {
        const rx = await echo.next<{ size: number; from: string; first: number }>("rx");
        assert.deepEqual(rx, { event: "rx", size, from: "2001:db8:1::1", first: 0x45 });
        const back = await sender.next<{ size: number; from: string; intact: boolean }>("echo");
        assert.deepEqual(back, { event: "echo", size, from: "2001:db8:1::2", intact: true });
      }
      await sender.next("done");
      assert.equal(await sender.finish(), 0);
      echo.send("stop");
      assert.equal(await echo.finish(), 0);
      // The 3000-byte packets crossed the veth as IPv6 fragments.
      const stats = sh("ip", ["netns", "exec", b, "cat", "/proc/net/snmp6"]);
      const reasm = /Ip6ReasmOKs\s+(\d+)/.exec(stats);
      assert.ok(reasm && Number(reasm[1]) >= 1, "b reassembled at least one packet");
    });
  },
);

test(
  "sys netns: the ICMPv6 error socket sees the Parameter Problem for IPIP nobody receives",
  { skip: NEEDS_ROOT },
  async () => {
    await withNamespaces([uniqueNs("ea"), uniqueNs("eb")], async (a, b) => {
      joinPair(a, b);
      const probe = new Probe(
        a,
        runtimeArgv(here("probe_ipip.ts"), [
          JSON.stringify({ mode: "errors", local: "2001:db8:1::1", to: "2001:db8:1::2" }),
        ]),
      );
      const icmp = await probe.next<Record<string, unknown>>("icmp");
      // RFC 4443 §3.4: type 4 (Parameter Problem), code 1 (unrecognized Next Header).
      assert.deepEqual(icmp, {
        event: "icmp",
        type: 4,
        code: 1,
        from: "2001:db8:1::2",
        innerNextHeader: 4,
        innerVersion: 4,
      });
      assert.equal(await probe.finish(), 0);
    });
  },
);
