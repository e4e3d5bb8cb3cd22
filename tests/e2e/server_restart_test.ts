/**
 * End to end, a crash of the DSTM server: SIGKILL while clients hold leases. Forwarding goes on
 * without it (the TEPs hold their bindings), and a server restarted with the same state directory
 * lists the same leases (journal), takes the TEPs back, and accepts the clients' renewals: they
 * keep their addresses. A client that arrives afterwards gets an address nobody holds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { modes, ping, waitFor, withLab } from "./_lab.ts";

const CLIENTS = 3;

for (const m of modes()) {
  test(
    `e2e server restart: leases survive a SIGKILL of the server, clients keep working and renew (${m.label})`,
    { skip: m.skip },
    () =>
      withLab("rst", m.mode, {
        clients: CLIENTS + 1,
        startClients: CLIENTS,
        server: { lifetimeSeconds: 30 },
        // Renewals every 3 s, so every client renews with the restarted server within the test.
        client: { leaseCapSeconds: 6 },
      }, async (lab) => {
        const d = lab.domain;
        const idx = [...Array(CLIENTS).keys()];
        for (const i of idx) {
          const p = await ping(d.clients[i].ns, d.z.ipv4, 2, "0.2");
          assert.equal(p.received, 2, `${p.out}\n${lab.tails()}`);
        }
        // A lease is its address, its client's IPv6 and identity. (Its TEP may change: a client
        // renewing before its TEP's session is back at the restarted server is moved, with the
        // same address, to a TEP that is.)
        const key = (l: { ipv4: string; clientIpv6: string; identity: string }) =>
          `${l.ipv4} ${l.clientIpv6} ${l.identity}`;
        const before = lab.serverLeases().leases;
        assert.equal(before.length, CLIENTS);
        const addrs = idx.map((i) => lab.clientStatus(i).lease!.ipv4);

        assert.equal(await lab.run.stop(lab.server, "SIGKILL"), "SIGKILL");
        // The data plane does not need the server: bindings held keep forwarding.
        const down = await ping(d.clients[0].ns, d.z.ipv4, 3, "0.2");
        assert.equal(down.received, 3, `forwarding while the server is down: ${down.out}`);

        const restartedAt = Date.now();
        const renewalsAtRestart = idx.map((i) => lab.clientStatus(i).leaseStats.renewals);
        await lab.startServer();
        const after = lab.serverLeases().leases;
        assert.deepEqual(
          after.map(key).sort(),
          before.map(key).sort(),
          `the same leases after the restart\n${lab.tails(["server"])}`,
        );
        await lab.waitTepsUp();

        // Every client renews with the restarted server and keeps its address.
        for (const i of idx) {
          const renewed = await waitFor(
            () => {
              const s = lab.tryClientStatus(i);
              return s && s.phase === "bound" && s.leaseStats.renewals > renewalsAtRestart[i] &&
                  Date.parse(s.lease!.expiresAt) > restartedAt + 3000
                ? s
                : undefined;
            },
            15_000,
            250,
          );
          assert.ok(
            renewed,
            `client${i + 1} did not renew after the restart: ` +
              `${JSON.stringify(lab.tryClientStatus(i)?.leaseStats)}\n` +
              lab.tails([`client${i + 1}`, "server"]),
          );
          assert.equal(renewed.lease?.ipv4, addrs[i], `client${i + 1} keeps its address`);
          assert.equal(renewed.leaseStats.grants, 1, "a renewal, not a new lease");
          assert.equal(renewed.leaseStats.losses, 0);
          const atServer = lab.serverLeases().leases.find((l) => l.ipv4 === addrs[i]);
          assert.equal(atServer?.tep, d.teps[lab.tepIndex(renewed.lease!.tep)].name);
        }
        if (process.env.DSTM_E2E_VERBOSE) {
          const moved = idx.filter((i) => lab.clientStatus(i).leaseStats.tepChanges > 0).length;
          console.log(`server restart (${m.label}): ${moved} client(s) moved to another TEP`);
        }
        const renewedAtServer = lab.serverLeases().leases;
        assert.deepEqual(renewedAtServer.map(key).sort(), before.map(key).sort());
        for (const l of renewedAtServer) {
          const was = before.find((b) => b.ipv4 === l.ipv4)!;
          assert.ok(
            Date.parse(l.expiresAt) > Date.parse(was.expiresAt),
            `the restarted server recorded the renewal: ${JSON.stringify([was, l])}`,
          );
        }
        for (const i of idx) {
          const p = await ping(d.clients[i].ns, d.z.ipv4, 2, "0.2");
          assert.equal(p.received, 2, `${p.out}\n${lab.tails([`client${i + 1}`, "tep1", "tep2"])}`);
        }

        // A newcomer gets a fresh address: the restarted server knows which ones are taken.
        lab.startClient(CLIENTS);
        const fresh = await lab.waitLease(CLIENTS);
        assert.ok(!addrs.includes(fresh.lease!.ipv4), `${fresh.lease!.ipv4} was already leased`);
        const p = await ping(d.clients[CLIENTS].ns, d.z.ipv4, 2, "0.2");
        assert.equal(p.received, 2, p.out);
        assert.equal(lab.serverLeases().leases.length, CLIENTS + 1);
      }),
  );
}
