/**
 * End to end, the data-plane checks that close the multi-TEP draft's security gaps (protocol
 * brief §6):
 * - gap 1/5: a host inside the domain (the spoofer, inside the client prefix) sends IPv4-in-IPv6
 *   whose inner source is a client's lease: both TEPs drop it (`spoofed-source`), z never sees
 *   it, no binding changes, and the real client keeps working;
 * - gap 6: a host outside the domain's prefixes (the outsider) tries the TEP as a relay: dropped
 *   (`outside-client-prefix`);
 * - gap 7: the outsider sends IPv4-in-IPv6 to the client: dropped at the client and counted
 *   (`source-not-tep`), the client's IPv4 stack never sees it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { drop, type Lab, modes, ping, snmp, type TepStats, waitFor, withLab } from "./_lab.ts";

const N = 5;

/** Wait until TEP `i`'s drop counter `reason` reaches `target`; returns the last stats. */
async function tepDropReaches(lab: Lab, i: number, reason: string, target: number) {
  let last: TepStats | undefined;
  await waitFor(() => {
    last = lab.tepStats(i);
    return drop(last, reason) >= target;
  }, 5000);
  return last!;
}

for (const m of modes()) {
  test(
    `e2e untrusted sources: a spoofer is dropped at the TEPs, an outsider at the TEP and at the client (${m.label})`,
    { skip: m.skip },
    () =>
      withLab("sec", m.mode, { clients: 1, spoofer: true, outsider: true }, async (lab) => {
        const d = lab.domain;
        const cli = d.clients[0];
        const st = lab.clientStatus(0);
        const lease = st.lease!.ipv4;
        const out = lab.tepIndex(st.lease!.tep);
        const back = 1 - out;
        lab.returnVia(back);
        // Real traffic first, so both TEPs hold a binding for the lease (push and query).
        const p0 = await ping(cli.ns, d.z.ipv4, 2, "0.2");
        assert.equal(p0.received, 2, `${p0.out}\n${lab.tails()}`);
        const bindings = [lab.tepBindings(0), lab.tepBindings(1)];
        for (const b of bindings) {
          assert.deepEqual(b.map((x) => [x.ipv4, x.ipv6]), [[lease, cli.ipv6]]);
        }

        // The spoofer claims the client's lease as its inner source, to each TEP.
        const spoofer = d.spoofer!;
        const zEchos = snmp(d.z.ns, "Icmp", "InEchos");
        const before = [lab.tepStats(0), lab.tepStats(1)];
        for (const t of d.teps) {
          const sent = await lab.sendIpip(spoofer.ns, {
            local: spoofer.ipv6,
            to: t.ipv6,
            innerSrc: lease,
            innerDst: d.z.ipv4,
            count: N,
          });
          assert.equal(sent, N);
        }
        for (const i of [0, 1]) {
          const target = drop(before[i], "spoofed-source") + N;
          const s = await tepDropReaches(lab, i, "spoofed-source", target);
          assert.equal(
            drop(s, "spoofed-source"),
            target,
            `${d.teps[i].name} counts every spoofed packet\n${lab.tails([d.teps[i].name])}`,
          );
        }
        // The TEP the client does not use decapsulated nothing at all (the one it uses also
        // carries its keepalive probes, so z's counter below is the check for both).
        assert.equal(lab.tepStats(back).forward.decapPackets, before[back].forward.decapPackets);
        assert.equal(snmp(d.z.ns, "Icmp", "InEchos"), zEchos, "z never sees a spoofed packet");
        // Nothing was learned from the spoofed packets; the client still owns its address.
        assert.deepEqual(
          [lab.tepBindings(0), lab.tepBindings(1)].map((b) =>
            b.map((x) => [x.ipv4, x.ipv6, x.source])
          ),
          bindings.map((b) => b.map((x) => [x.ipv4, x.ipv6, x.source])),
        );
        const p1 = await ping(cli.ns, d.z.ipv4, 3, "0.2");
        assert.equal(p1.received, 3, `the client still reaches z: ${p1.out}\n${lab.tails()}`);

        // The outsider tries TEP1 as an open relay.
        const outsider = d.outsider!;
        const relay0 = drop(lab.tepStats(0), "outside-client-prefix");
        assert.equal(
          await lab.sendIpip(outsider.ns, {
            local: outsider.ipv6,
            to: d.teps[0].ipv6,
            innerSrc: lease,
            innerDst: d.z.ipv4,
            count: N,
          }),
          N,
        );
        const relay = await tepDropReaches(lab, 0, "outside-client-prefix", relay0 + N);
        assert.equal(drop(relay, "outside-client-prefix"), relay0 + N, lab.tails(["tep1"]));
        assert.equal(snmp(d.z.ns, "Icmp", "InEchos"), zEchos + 3, "z saw only the client's pings");

        // The outsider sends IPv4-in-IPv6 straight to the client (inner destination its lease).
        const cBefore = lab.clientStatus(0);
        const cliEchos = snmp(cli.ns, "Icmp", "InEchos");
        assert.equal(
          await lab.sendIpip(outsider.ns, {
            local: outsider.ipv6,
            to: cli.ipv6,
            innerSrc: d.z.ipv4,
            innerDst: lease,
            count: N,
          }),
          N,
        );
        const target = cBefore.counters.drops["source-not-tep"] + N;
        const counted = await waitFor(() => {
          const s = lab.clientStatus(0);
          return s.counters.drops["source-not-tep"] >= target ? s : undefined;
        }, 5000);
        assert.equal(
          counted?.counters.drops["source-not-tep"],
          target,
          `client drops ${JSON.stringify(lab.clientStatus(0).counters.drops)}\n` +
            lab.tails(["client1"]),
        );
        assert.equal(snmp(cli.ns, "Icmp", "InEchos"), cliEchos, "the client's stack never sees it");
        assert.equal(counted.lease?.ipv4, lease);
      }),
  );
}
