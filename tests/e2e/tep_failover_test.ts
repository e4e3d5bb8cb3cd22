/**
 * End to end, TEP failover: the client's TEP is stopped (SIGTERM; the IPv4 router already sends
 * the pool to the other TEP, as routing would after the stopped TEP withdrew it). The client
 * notices (keepalive misses or ICMPv6 errors), asks the server again and is moved to the other
 * TEP with the SAME IPv4 address; ping and TCP to z continue through it. The stopped TEP exits 0
 * and leaves no TUN or route behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { ipJson, modes, ping, waitFor, withLab } from "./_lab.ts";

const ECHO_PORT = 7008;

for (const m of modes()) {
  test(
    `e2e TEP failover: the client's TEP stops, traffic continues through the other TEP with the same address (${m.label})`,
    { skip: m.skip },
    () =>
      withLab("fo", m.mode, { clients: 1 }, async (lab) => {
        const d = lab.domain;
        const cli = d.clients[0];
        const st = lab.clientStatus(0);
        const ipv4 = st.lease!.ipv4;
        const dead = lab.tepIndex(st.lease!.tep);
        const live = 1 - dead;
        const [deadName, liveName] = [d.teps[dead].name, d.teps[live].name];
        lab.returnVia(live);
        const p0 = await ping(cli.ns, d.z.ipv4, 2, "0.2");
        assert.equal(p0.received, 2, `${p0.out}\n${lab.tails()}`);
        await lab.startEcho(ECHO_PORT);
        const decapBefore = lab.tepStats(live).forward.decapPackets;

        const t0 = Date.now();
        const code = await lab.run.stop(lab.teps[dead], "SIGTERM");
        assert.equal(code, 0, `${deadName} exits 0 on SIGTERM\n${lab.tails([deadName])}`);
        const tepNs = d.teps[dead].ns;
        assert.deepEqual(
          ipJson("-n", tepNs, "link", "show", "dstm-tep0"),
          [],
          `${deadName} removed its TUN`,
        );
        assert.deepEqual(ipJson("-n", tepNs, "-4", "route", "show", d.pool), []);
        assert.deepEqual(
          ipJson("-n", tepNs, "-6", "route", "show", `${d.teps[dead].ipv6}/128`),
          [],
        );

        // The client moves to the live TEP and keeps its address.
        const moved = await waitFor(
          () => {
            const s = lab.tryClientStatus(0);
            return s?.phase === "bound" && s.lease?.tep === d.teps[live].ipv6 ? s : undefined;
          },
          30_000,
          200,
        );
        assert.ok(
          moved,
          `the client did not move to ${liveName}\n${lab.tails(["client1", "server"])}`,
        );
        assert.equal(moved.lease!.ipv4, ipv4, "the IPv4 address is kept");
        assert.equal(moved.leaseStats.tepChanges, 1);
        const back = await waitFor(
          async () => {
            const r = await ping(cli.ns, d.z.ipv4, 1, "0.2", 1);
            return r.received === 1;
          },
          20_000,
          100,
        );
        const outage = (Date.now() - t0) / 1000;
        assert.ok(back, `no IPv4 connectivity after ${deadName} stopped\n${lab.tails()}`);
        const p1 = await ping(cli.ns, d.z.ipv4, 5, "0.2");
        assert.equal(p1.received, 5, `${p1.out}\n${lab.tails(["client1", liveName])}`);
        const tcp = await lab.tcpExchange(0, ECHO_PORT, 128 * 1024);
        assert.ok(
          tcp.ok,
          `TCP through ${liveName}: ${tcp.out}\n${lab.tails(["client1", liveName])}`,
        );

        // Everything now goes out through the live TEP, which holds the binding.
        assert.ok(
          lab.tepStats(live).forward.decapPackets - decapBefore >= 6 + 10,
          JSON.stringify(lab.tepStats(live).forward),
        );
        const b = lab.tepBindings(live).find((x) => x.ipv4 === ipv4);
        assert.equal(b?.ipv6, cli.ipv6, JSON.stringify(lab.tepBindings(live)));
        const lease = lab.serverLeases().leases.find((l) => l.ipv4 === ipv4);
        assert.equal(lease?.tep, liveName, JSON.stringify(lease));
        assert.equal(lease?.clientIpv6, cli.ipv6);
        const teps = lab.serverTeps() ?? [];
        assert.notEqual(teps.find((t) => t.name === deadName)?.state, "up", JSON.stringify(teps));
        if (process.env.DSTM_E2E_VERBOSE) {
          console.log(`failover (${m.label}): ${outage.toFixed(1)} s`);
        }
      }),
  );
}
