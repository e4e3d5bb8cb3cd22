/**
 * End to end, hairpinning: two DSTM clients of the domain talk IPv4 to each other. Each packet
 * goes up to a TEP, is decapsulated, turns out to be for a pool address, and is encapsulated
 * again toward the other client (RFC 7596 §6.2 hairpinning; protocol brief §4.5): no packet leaves
 * the domain for the IPv4 world.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { modes, ping, snmp, withLab } from "./_lab.ts";

for (const m of modes()) {
  test(
    `e2e hairpin: two clients ping each other's leased IPv4 through the TEPs (${m.label})`,
    { skip: m.skip },
    () =>
      withLab("hp", m.mode, { clients: 2 }, async (lab) => {
        const d = lab.domain;
        const a = lab.clientStatus(0).lease!;
        const b = lab.clientStatus(1).lease!;
        assert.notEqual(a.ipv4, b.ipv4);
        const hairpinBefore = [0, 1].map((i) => lab.tepStats(i).forward.hairpinPackets);
        const zEchosBefore = snmp(d.z.ns, "Icmp", "InEchos");
        const p = await ping(d.clients[0].ns, b.ipv4, 3, "0.2");
        assert.equal(p.received, 3, `${p.out}\n${lab.tails()}`);
        const hairpinAfter = [0, 1].map((i) => lab.tepStats(i).forward.hairpinPackets);
        const hairpinned = hairpinAfter[0] + hairpinAfter[1] - hairpinBefore[0] - hairpinBefore[1];
        // Three requests and three replies, each turned around at the sender's TEP. The first packet
        // each way waits for a query (the other client's binding was pushed to its own TEP) and
        // leaves through the query queue, counted as encapsulated; the others count as hairpin.
        assert.ok(hairpinned >= 4, `hairpinned ${hairpinned} packets\n${lab.tails()}`);
        // Nothing of it reached the IPv4 side.
        assert.equal(snmp(d.z.ns, "Icmp", "InEchos"), zEchosBefore);
      }),
  );
}
