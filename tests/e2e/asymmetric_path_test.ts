/**
 * End to end, the multi-TEP case of draft-jaehwoon-dstm-multitep-02 (protocol brief §1.3): a
 * client leases an address and a TEP, sends IPv4 (ping and a TCP exchange with the IPv4-only host
 * z) out through that TEP, and the replies come back through the OTHER TEP, which had to ask the
 * server (`query`) who holds the address. Checked on the per-TEP counters and bindings, the
 * server's lease record (`tepsThatQueried`) and the client's counters.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { drop, modes, ping, waitFor, withLab } from "./_lab.ts";

const ECHO_PORT = 7007;
const PINGS = 5;
const TCP_BYTES = 256 * 1024;

for (const m of modes()) {
  test(
    `e2e asymmetric path: ping and TCP to z out through one TEP, back through the other after its query (${m.label})`,
    { skip: m.skip },
    () =>
      withLab("asym", m.mode, { clients: 1 }, async (lab) => {
        const d = lab.domain;
        const cli = d.clients[0];
        const st = lab.clientStatus(0);
        const ipv4 = st.lease!.ipv4;
        const out = lab.tepIndex(st.lease!.tep);
        const back = 1 - out;
        const [outName, backName] = [d.teps[out].name, d.teps[back].name];
        // The IPv4 router returns pool traffic through the TEP the client was NOT given.
        lab.returnVia(back);

        // The server pushed the binding to the assigned TEP at allocation; the other has none.
        const pushed = await waitFor(
          () => lab.tepBindings(out).find((b) => b.ipv4 === ipv4),
          10_000,
        );
        assert.deepEqual(
          pushed && [pushed.ipv6, pushed.source],
          [cli.ipv6, "push"],
          `${outName} bindings\n${lab.tails([outName, "server"])}`,
        );
        assert.deepEqual(lab.tepBindings(back), [], `${backName} has no binding before traffic`);

        // Client before the TEPs, TEPs before the client afterwards: every keepalive reply a
        // TEP counts between its two snapshots reaches the client between the client's two.
        const cBefore = lab.clientStatus(0);
        const before = [lab.tepStats(0), lab.tepStats(1)];

        const p = await ping(cli.ns, d.z.ipv4, PINGS, "0.2");
        assert.equal(
          p.received,
          PINGS,
          `${p.out}\n${lab.tails(["client1", outName, backName, "server"])}`,
        );
        await lab.startEcho(ECHO_PORT);
        const tcp = await lab.tcpExchange(0, ECHO_PORT, TCP_BYTES);
        assert.ok(
          tcp.ok,
          `TCP exchange with z: ${tcp.out}\n${lab.tails(["client1", outName, backName])}`,
        );

        const after = [lab.tepStats(0), lab.tepStats(1)];
        const cAfter = lab.clientStatus(0);
        const delta = (i: number, k: string) => after[i].forward[k] - before[i].forward[k];
        const counters = `out ${outName} ${JSON.stringify(after[out].forward)}\n` +
          `back ${backName} ${JSON.stringify(after[back].forward)}`;

        // Outbound: everything the client sent was decapsulated by its TEP, none by the other.
        assert.ok(delta(out, "decapPackets") >= PINGS + 10, counters);
        assert.equal(
          delta(back, "decapPackets"),
          0,
          `nothing goes out through ${backName}\n${counters}`,
        );
        // Return: z's replies (echo replies, TCP segments) were encapsulated by the other TEP.
        assert.ok(delta(back, "encapPackets") >= PINGS + 10, counters);
        // The assigned TEP carried back at most the replies to the client's keepalive probes.
        const keepaliveReplies = cAfter.counters.traffic["keepalive-replies"] -
          cBefore.counters.traffic["keepalive-replies"];
        assert.ok(
          delta(out, "encapPackets") <= keepaliveReplies,
          `${outName} encapsulated ${delta(out, "encapPackets")} (keepalive replies ` +
            `${keepaliveReplies})\n${counters}`,
        );

        // The other TEP learned the binding by asking the server, never from a data packet.
        const queried = lab.tepBindings(back).find((b) => b.ipv4 === ipv4);
        assert.deepEqual(queried && [queried.ipv6, queried.source], [cli.ipv6, "query"]);
        assert.ok(
          Number(after[back].session.queriesSent) >= 1,
          JSON.stringify(after[back].session),
        );
        assert.equal(Number(after[out].session.pushesAdd), 1, JSON.stringify(after[out].session));
        for (const s of after) {
          for (const r of ["spoofed-source", "no-binding", "outside-client-prefix"]) {
            assert.equal(drop(s, r), 0, `${r} drops on a TEP`);
          }
        }

        // The server recorded who asked, so a later delete reaches that TEP too (brief §5.3).
        const lease = lab.serverLeases().leases.find((l) => l.ipv4 === ipv4);
        assert.ok(lease, `the server lists the lease: ${JSON.stringify(lab.serverLeases())}`);
        assert.equal(lease.clientIpv6, cli.ipv6);
        assert.equal(lease.identity, "alice");
        assert.equal(lease.tep, outName);
        assert.deepEqual(lease.tepsThatQueried, [backName]);

        // The client accepted the return traffic from a TEP it was not given (brief §1.3).
        assert.ok(
          cAfter.counters.traffic["tunnel-rx-packets"] -
              cBefore.counters.traffic["tunnel-rx-packets"] >= PINGS + 10,
          JSON.stringify(cAfter.counters),
        );
        assert.equal(cAfter.counters.drops["source-not-tep"], 0);
        assert.equal(cAfter.lease?.ipv4, ipv4);
      }),
  );
}
