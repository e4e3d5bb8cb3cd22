/**
 * End to end, twenty DSTM clients at once in one domain: each gets its own lease from the shared
 * pool (the server spreads them over the live TEPs), and each reaches the IPv4-only host z at the
 * same time. The TEP that carries the return traffic (TEP2: the IPv4 router sends the pool there)
 * ends up with a binding for every client: pushed for its own clients, queried for TEP1's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { modes, ping, snmp, waitFor, withLab } from "./_lab.ts";

const CLIENTS = 20;
const PINGS = 3;

for (const m of modes()) {
  test(
    `e2e many clients: ${CLIENTS} clients each lease a distinct address and ping z at once (${m.label})`,
    { skip: m.skip },
    () =>
      withLab("many", m.mode, { clients: CLIENTS }, async (lab) => {
        const d = lab.domain;
        const statuses = d.clients.map((_, i) => lab.clientStatus(i));
        const addrs = statuses.map((s) => s.lease!.ipv4);
        assert.equal(new Set(addrs).size, CLIENTS, `distinct leases: ${addrs.join(" ")}`);
        for (const a of addrs) assert.match(a, /^198\.51\.100\.\d+$/, "leases come from the pool");

        // The server's view matches every client's: address, IPv6, identity and TEP.
        const { leases } = lab.serverLeases();
        assert.equal(leases.length, CLIENTS, JSON.stringify(leases));
        for (const [i, s] of statuses.entries()) {
          const l = leases.find((x) => x.ipv4 === s.lease!.ipv4);
          assert.ok(l, `client${i + 1}'s ${s.lease!.ipv4} not at the server`);
          assert.equal(l.clientIpv6, d.clients[i].ipv6);
          assert.equal(l.identity, i === 0 ? "alice" : `user${i}`);
          assert.equal(l.tep, d.teps[lab.tepIndex(s.lease!.tep)].name);
        }
        // New leases go to the least-loaded live TEP.
        const perTep = d.teps.map((t) => leases.filter((l) => l.tep === t.name).length);
        assert.ok(Math.abs(perTep[0] - perTep[1]) <= 1, `leases per TEP ${perTep}`);
        for (const [i, t] of d.teps.entries()) {
          // The push may still be on its way when the last client is bound.
          const pushed = () => lab.tepBindings(i).filter((b) => b.source === "push").length;
          await waitFor(() => pushed() === perTep[i], 5000);
          assert.equal(pushed(), perTep[i], `${t.name} got a push per lease`);
        }

        // Everyone pings z at the same time.
        const echosBefore = snmp(d.z.ns, "Icmp", "InEchos");
        const results = await Promise.all(
          d.clients.map((c) => ping(c.ns, d.z.ipv4, PINGS, "0.2", 3)),
        );
        const failed = results.map((r, i) => ({ r, i })).filter(({ r }) => r.received !== PINGS);
        assert.deepEqual(
          failed.map(({ r }) => r.out),
          [],
          lab.tails(failed.slice(0, 3).map(({ i }) => `client${i + 1}`).concat(["tep1", "tep2"])),
        );
        assert.ok(snmp(d.z.ns, "Icmp", "InEchos") - echosBefore >= CLIENTS * PINGS);

        // TEP2 carried every reply: it holds a binding for every client, each with its source.
        const b2 = lab.tepBindings(1);
        for (const [i, s] of statuses.entries()) {
          const b = b2.find((x) => x.ipv4 === s.lease!.ipv4);
          assert.ok(b, `tep2 has no binding for client${i + 1}: ${JSON.stringify(b2)}`);
          assert.equal(b.ipv6, d.clients[i].ipv6);
          assert.equal(b.source, s.lease!.tep === d.teps[1].ipv6 ? "push" : "query");
        }
        const t1 = lab.tepStats(0);
        const t2 = lab.tepStats(1);
        assert.ok(t2.forward.encapPackets >= CLIENTS * PINGS, JSON.stringify(t2.forward));
        assert.ok(
          t1.forward.decapPackets + t2.forward.decapPackets >= CLIENTS * PINGS,
          JSON.stringify([t1.forward, t2.forward]),
        );
        assert.equal(Number(t2.session.queriesSent) >= perTep[0], true);
      }),
  );
}
