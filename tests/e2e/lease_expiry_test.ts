/**
 * End to end, lease expiry (protocol brief §5.3, §6 gap 4): with a short lease (the server's
 * testing-only `lifetimeSeconds`), a client killed with SIGKILL can neither renew nor release.
 * When its lease expires the server pushes removals to the TEP it was assigned and to the TEP
 * that queried it, both drop the binding at once (they were given a whole minute, so only the
 * push can explain it), the address goes into quarantine, and traffic from z to it is refused.
 * Another client, renewing all along, keeps its address and its path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { drop, modes, ping, serverCounter, waitFor, withLab } from "./_lab.ts";

/** Server lease lifetime; clients renew at half their capped lifetime. */
const LIFETIME_S = 6;
const CLIENT_CAP_S = 4;

for (const m of modes()) {
  test(
    `e2e lease expiry: a SIGKILLed client's lease expires and the server removes its bindings from both TEPs (${m.label})`,
    { skip: m.skip },
    () =>
      withLab("exp", m.mode, {
        clients: 2,
        server: { lifetimeSeconds: LIFETIME_S, quarantineSeconds: 0 },
        client: { leaseCapSeconds: CLIENT_CAP_S },
      }, async (lab) => {
        const d = lab.domain;
        const [victim, survivor] = [lab.clientStatus(0), lab.clientStatus(1)];
        const gone = victim.lease!.ipv4;
        const kept = survivor.lease!.ipv4;
        const vTep = lab.tepIndex(victim.lease!.tep);
        const other = 1 - vTep;
        // Return traffic through the TEP the victim was not given: that one has to query.
        lab.returnVia(other);
        for (const i of [0, 1]) {
          const p = await ping(d.clients[i].ns, d.z.ipv4, 2, "0.2");
          assert.equal(p.received, 2, `${p.out}\n${lab.tails()}`);
        }
        const has = (i: number, a: string) => lab.tepBindings(i).some((b) => b.ipv4 === a);
        assert.ok(has(vTep, gone) && has(other, gone), "both TEPs hold the victim's binding");
        for (const b of [...lab.tepBindings(0), ...lab.tepBindings(1)]) {
          assert.ok(
            b.expiresInMs > 30_000,
            `TEP bindings last far longer than the lease: ${JSON.stringify(b)}`,
          );
        }
        const removesBefore = [0, 1].map((i) => Number(lab.tepStats(i).session.pushesRemove));
        const serverRemovesBefore = serverCounter(lab.serverStats(), "pushes_total", "kind=remove");

        // SIGKILL: no release, no renewal.
        const killedAt = Date.now();
        assert.equal(await lab.run.stop(lab.clients[0], "SIGKILL"), "SIGKILL");
        const expired = await waitFor(
          () => !lab.serverLeases().leases.some((l) => l.ipv4 === gone),
          (LIFETIME_S + 10) * 1000,
          250,
        );
        const waited = Date.now() - killedAt;
        assert.ok(expired, `the lease of ${gone} never expired\n${lab.tails(["server"])}`);
        // At most a lifetime after its last renewal (plus the polling of `ctl leases`).
        assert.ok(waited <= (LIFETIME_S + 4) * 1000, `expired after ${waited} ms`);
        const q = lab.serverLeases();
        assert.ok(q.quarantine.some((x) => x.ipv4 === gone), `quarantined: ${JSON.stringify(q)}`);

        // Both TEPs drop the binding on the server's push.
        const removed = await waitFor(() => !has(0, gone) && !has(1, gone), 5000);
        assert.ok(
          removed,
          `bindings left: ${JSON.stringify([lab.tepBindings(0), lab.tepBindings(1)])}\n` +
            lab.tails(["server", "tep1", "tep2"]),
        );
        for (const i of [0, 1]) {
          const s = lab.tepStats(i).session;
          assert.ok(
            Number(s.pushesRemove) >= removesBefore[i] + 1,
            `${d.teps[i].name} ${JSON.stringify(s)}`,
          );
        }
        assert.ok(
          serverCounter(lab.serverStats(), "pushes_total", "kind=remove") >=
            serverRemovesBefore + 2,
          `the server pushed a removal to each TEP: ${
            JSON.stringify(lab.serverStats().pushes_total)
          }`,
        );

        // z's traffic to the expired address is refused by the server and dropped at the TEP.
        const refusedBefore = drop(lab.tepStats(other), "query-refused");
        const stale = await ping(d.z.ns, gone, 2, "0.2", 1);
        assert.equal(stale.received, 0, stale.out);
        assert.ok(
          drop(lab.tepStats(other), "query-refused") >= refusedBefore + 1,
          `query-refused at ${d.teps[other].name}\n${lab.tails([d.teps[other].name])}`,
        );

        // The survivor renewed throughout and still has its address, bindings and path.
        const s = lab.clientStatus(1);
        assert.equal(s.lease?.ipv4, kept);
        assert.ok(s.leaseStats.renewals >= 1, `renewals ${JSON.stringify(s.leaseStats)}`);
        assert.ok(Date.parse(s.lease!.expiresAt) > Date.now(), "its lease runs on");
        assert.ok(lab.serverLeases().leases.some((l) => l.ipv4 === kept));
        assert.ok(has(lab.tepIndex(s.lease!.tep), kept), "the survivor's binding stays");
        const p = await ping(d.clients[1].ns, d.z.ipv4, 2, "0.2");
        assert.equal(p.received, 2, `${p.out}\n${lab.tails(["client2", "tep1", "tep2"])}`);
      }),
  );
}
