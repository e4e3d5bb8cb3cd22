import { test } from "node:test";
import assert from "node:assert/strict";
import { type GlueOutput, leaseFromInfo, TspGlue } from "./tsp_glue.ts";
import { MemoryNet, testSasl } from "./_testing.ts";
import type { Transport } from "./tcp_transport.ts";
import { allocationInfo, createSaslClient, type MechanismName } from "../lib/tsp/mod.ts";
import { formatIpv4, formatIpv6 } from "../lib/addr/mod.ts";
import type { ClientLeaseEvent } from "../lib/client/mod.ts";

/** A glue wired to the in-memory server, recording every output. */
function harness(
  options: { mechanism?: MechanismName; sasl?: ReturnType<typeof testSasl>; source?: string } = {},
) {
  const clock = { now: 1_000_000 };
  const net = new MemoryNet(() => clock.now);
  const glue = new TspGlue({
    mechanism: options.mechanism ?? "ANONYMOUS",
    createSasl: options.sasl ?? testSasl(),
    ...(options.source ? { source: options.source } : {}),
    responseTimeoutMs: 5000,
  });
  const out: GlueOutput[] = [];
  let transport: Transport | undefined;
  const apply = (outs: GlueOutput[]) => {
    for (const o of outs) {
      out.push(o);
      if (o.kind === "connect") {
        let t: Transport | undefined = undefined;
        const live = () => t !== undefined && transport === t;
        t = net.connect({ host: "2001:db8:1::1", port: 3653, localAddress: o.source }, {
          connected: (l) => live() && apply(glue.connected(clock.now, l)),
          data: (b) => live() && apply(glue.data(clock.now, b)),
          closed: (r) => {
            if (!live()) return;
            transport = undefined;
            apply(glue.closed(clock.now, r));
          },
        });
        transport = t;
      } else if (o.kind === "send") transport?.write(o.bytes);
      else if (o.kind === "close") {
        transport?.close();
        transport = undefined;
      }
    }
  };
  const events = () =>
    out.filter((o): o is Extract<GlueOutput, { kind: "lease-event" }> => o.kind === "lease-event")
      .map((o) => o.event);
  return { clock, net, glue, out, apply, events };
}

function granted(e: ClientLeaseEvent | undefined) {
  assert.ok(e && e.kind === "granted", `expected granted, got ${JSON.stringify(e)}`);
  return e;
}

test("tsp glue: allocation learns the source, keeps the session open, renews on it", () => {
  const h = harness();
  h.apply(h.glue.request(h.clock.now, 1));
  assert.deepEqual(h.out[0], { kind: "connect", source: undefined });
  h.net.pump();
  assert.ok(h.out.some((o) => o.kind === "source" && o.source === "2001:db8:100::10"));
  const g = granted(h.events()[0]);
  assert.equal(g.id, 1);
  assert.equal(formatIpv4(g.lease.ipv4), "198.51.100.7");
  assert.equal(formatIpv6(g.lease.tep.ipv6), "2001:db8:ffff::1");
  assert.equal(formatIpv4(g.lease.tep.ipv4), "192.0.2.1");
  assert.equal(g.lease.lifetimeMinutes, 10);
  assert.equal(h.net.open, 1, "the session stays open for pushes");
  assert.equal(h.net.dstm.leases.get("198.51.100.7")?.committed, true, "accept was sent");
  assert.deepEqual(h.net.dstm.log[0], { action: "create", ipv6: "2001:db8:100::10" });

  h.apply(h.glue.request(h.clock.now, 2, g.lease.ipv4));
  h.net.pump();
  assert.equal(h.net.conns.length, 1, "renewal on the same connection");
  assert.deepEqual(h.net.dstm.log[1], {
    action: "create",
    ipv4: "198.51.100.7",
    ipv6: "2001:db8:100::10",
  });
  assert.equal(granted(h.events()[1]).id, 2);
  assert.equal(h.glue.status().answers, 2);
});

test("tsp glue: a closed session is reopened at the next request, bound to the learned source", () => {
  const h = harness();
  h.apply(h.glue.request(h.clock.now, 1));
  h.net.pump();
  h.net.dropAll();
  h.net.pump();
  assert.equal(h.glue.status().link, "down");
  assert.equal(h.events().length, 1, "an idle close fails nothing");
  h.apply(h.glue.request(h.clock.now, 2, 0xc6336407));
  h.net.pump();
  assert.deepEqual(h.net.binds, [undefined, "2001:db8:100::10"]);
  assert.equal(granted(h.events()[1]).id, 2);
});

test("tsp glue: refusal carries the code and the id; a failed connect fails the request", () => {
  const h = harness({ source: "2001:db8:100::10" });
  h.apply(h.glue.request(h.clock.now, 1));
  h.net.pump();
  const lease = granted(h.events()[0]).lease;
  h.net.dstm.refuseRenewals = true;
  h.apply(h.glue.request(h.clock.now, 2, lease.ipv4));
  h.net.pump();
  assert.deepEqual(h.events()[1], { kind: "refused", now: h.clock.now, code: 308, id: 2 });

  h.net.dropAll();
  h.net.pump();
  h.net.refuse = true;
  h.apply(h.glue.request(h.clock.now, 3, lease.ipv4));
  h.net.pump();
  const f = h.events()[2];
  assert.equal(f.kind, "failed");
  assert.equal(f.kind === "failed" && f.id, 3);
  assert.match(f.kind === "failed" ? f.error : "", /refused/);
  assert.ok(!h.out.some((o) => o.kind === "source"), "a configured source is never replaced");
});

test("tsp glue: a pushed delete on the open session is reported at once", () => {
  const h = harness();
  h.apply(h.glue.request(h.clock.now, 1));
  h.net.pump();
  h.net.pushDelete("198.51.100.7");
  h.net.pump();
  const d = h.out.find((o) => o.kind === "server-delete");
  assert.ok(d && d.kind === "server-delete");
  assert.equal(formatIpv4(d.ipv4), "198.51.100.7");
  assert.equal(d.clientIpv6, "2001:db8:100::10");
  assert.equal(h.glue.status().pushes, 1);
});

test("tsp glue: release is confirmed, then close ends the session", () => {
  const h = harness();
  h.apply(h.glue.request(h.clock.now, 1));
  h.net.pump();
  const lease = granted(h.events()[0]).lease;
  h.apply(h.glue.release(h.clock.now, lease.ipv4));
  h.net.pump();
  const r = h.out.find((o) => o.kind === "released");
  assert.ok(r && r.kind === "released" && r.ok, JSON.stringify(r));
  assert.equal(h.net.dstm.leases.size, 0);
  h.apply(h.glue.close(h.clock.now));
  h.net.pump();
  assert.equal(h.net.open, 0);
});

test("tsp glue: DIGEST-MD5 authenticates; a wrong password fails the request", () => {
  const good = harness({ mechanism: "DIGEST-MD5" });
  good.apply(good.glue.request(good.clock.now, 1));
  good.net.pump();
  granted(good.events()[0]);

  let n = 0;
  const wrong = (m: MechanismName) =>
    createSaslClient(m, {
      user: "alice",
      pass: "wrong",
      digestUriHost: "[2001:db8:1::1]",
      cnonce: () => `x${++n}`,
    });
  const bad = harness({ mechanism: "DIGEST-MD5", sasl: wrong });
  bad.apply(bad.glue.request(bad.clock.now, 1));
  bad.net.pump();
  const f = bad.events()[0];
  assert.equal(f?.kind, "failed");
  assert.match(f?.kind === "failed" ? f.error : "", /auth/);
  assert.equal(bad.glue.status().link, "down");
});

test("tsp glue: a silent server times the request out", () => {
  const h = harness();
  h.apply(h.glue.request(h.clock.now, 1));
  // Deliver the connection only; the server never gets our bytes.
  h.net.pumpOne();
  assert.equal(h.glue.status().link, "up");
  h.clock.now += 5001;
  assert.ok(h.glue.pollAt() <= h.clock.now);
  h.apply(h.glue.tick(h.clock.now));
  const f = h.events()[0];
  assert.equal(f?.kind, "failed");
  assert.match(f?.kind === "failed" ? f.error : "", /timeout/);
});

test("tsp glue: leaseFromInfo reads, caps and refuses", () => {
  const info = allocationInfo({
    ipv4: "198.51.100.9",
    tepIpv4: "192.0.2.2",
    tepIpv6: "2001:db8:ffff::2",
    lifetime: 60,
    keepalive: { interval: 5, addresses: [] },
  });
  const l = leaseFromInfo(info);
  assert.ok(typeof l !== "string");
  assert.equal(l.lifetimeMinutes, 60);
  assert.equal(l.keepaliveSeconds, 5);
  const capped = leaseFromInfo(info, 6000);
  assert.ok(typeof capped !== "string");
  assert.equal(capped.lifetimeMinutes, 0.1);
  const noTep4 = {
    ...info,
    server: { addresses: [{ type: "ipv6" as const, value: "2001:db8:ffff::2" }] },
  };
  assert.match(String(leaseFromInfo(noTep4)), /TEP IPv4/);
  const multicast = allocationInfo({
    ipv4: "224.0.0.1",
    tepIpv4: "192.0.2.2",
    tepIpv6: "2001:db8:ffff::2",
    lifetime: 1,
  });
  assert.match(String(leaseFromInfo(multicast)), /not unicast/);
  const noLifetime = { ...info, lifetime: undefined };
  const d = leaseFromInfo(noLifetime);
  assert.ok(typeof d !== "string" && d.lifetimeMinutes === 1440, "TSP default 1440 minutes");
});
