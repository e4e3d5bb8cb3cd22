/**
 * End to end, a clean shutdown of a whole domain: SIGTERM to the clients (each releases its lease,
 * the server pushes the removals, the interface and routes go), to the TEPs (TUN, routes and
 * control socket go), then to the server; every program exits 0. After the namespaces are torn
 * down nothing of the run is left: no namespace with its prefix, no TUN or temporary veth in the
 * root namespace, no route to the pool or the domain there.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import process from "node:process";
import { ipJson, Lab, modes, namespacesWith, ping, rootSnapshot, waitFor } from "./_lab.ts";

const CLIENTS = 2;

/**
 * What of a run could be left in the root namespace, from a snapshot: the programs' TUN devices
 * (`dstm0`, `dstm-tep0`), this process's temporary veths, routes to the test addresses.
 */
function ours(s: ReturnType<typeof rootSnapshot>): string[] {
  const veth = new RegExp(`^v${process.pid % 100000}[ab]\\d+ `);
  return [
    ...s.links.filter((l) => /^dstm.* \(tun\)$/.test(l) || veth.test(l)),
    ...s.routes.filter((r) => /198\.51\.100\.|192\.0\.2\.|203\.0\.113\.|2001:db8:/.test(r)),
  ];
}

for (const m of modes()) {
  test(
    `e2e teardown: SIGTERM releases every lease and removes every link and route, nothing is left (${m.label})`,
    { skip: m.skip },
    async () => {
      const rootBefore = ours(rootSnapshot());
      const lab = await Lab.open("down", m.mode, { clients: CLIENTS });
      const d = lab.domain;
      try {
        for (let i = 0; i < CLIENTS; i++) {
          const p = await ping(d.clients[i].ns, d.z.ipv4, 2, "0.2");
          assert.equal(p.received, 2, `${p.out}\n${lab.tails()}`);
        }
        assert.equal(lab.serverLeases().leases.length, CLIENTS);

        // Clients: release, take down the interface and routes, exit 0.
        for (const [i, c] of lab.clients.entries()) {
          const code = await lab.run.stop(c, "SIGTERM");
          assert.equal(code, 0, `client${i + 1} exit\n${lab.tails([`client${i + 1}`])}`);
          const ns = d.clients[i].ns;
          assert.deepEqual(ipJson("-n", ns, "link", "show", "dstm0"), [], "dstm0 removed");
          assert.deepEqual(ipJson("-n", ns, "-4", "route", "show"), [], "no IPv4 route left");
          assert.deepEqual(
            ipJson("-n", ns, "-4", "addr", "show", "scope", "global"),
            [],
            "no IPv4 address left",
          );
          assert.ok(!fs.existsSync(c.control), "control socket removed");
        }
        const leases = lab.serverLeases();
        assert.deepEqual(leases.leases, [], "every lease released");
        const released = await waitFor(
          () => lab.tepBindings(0).length + lab.tepBindings(1).length === 0,
          5000,
        );
        assert.ok(
          released,
          `the TEPs dropped the released bindings: ${
            JSON.stringify([lab.tepBindings(0), lab.tepBindings(1)])
          }\n${lab.tails(["server", "tep1", "tep2"])}`,
        );

        // TEPs: TUN, routes and control socket removed, exit 0.
        for (const [i, t] of lab.teps.entries()) {
          const code = await lab.run.stop(t, "SIGTERM");
          assert.equal(code, 0, `${t.name} exit\n${lab.tails([t.name])}`);
          const ns = d.teps[i].ns;
          assert.deepEqual(ipJson("-n", ns, "link", "show", "dstm-tep0"), [], "TUN removed");
          assert.deepEqual(ipJson("-n", ns, "-4", "route", "show", d.pool), []);
          assert.deepEqual(ipJson("-n", ns, "-6", "route", "show", `${d.teps[i].ipv6}/128`), []);
          assert.ok(!fs.existsSync(t.control), `${t.name} control socket removed`);
        }

        // The server: exit 0.
        const code = await lab.run.stop(lab.server, "SIGTERM");
        assert.equal(code, 0, `server exit\n${lab.tails(["server"])}`);
        assert.ok(!fs.existsSync(lab.server.control), "server control socket removed");
      } finally {
        await lab.close();
      }

      assert.deepEqual(namespacesWith(lab.prefix), [], "no namespace of the run is left");
      assert.deepEqual(
        ours(rootSnapshot()).filter((x) => !rootBefore.includes(x)),
        [],
        "nothing of the run is left in the root namespace",
      );
      assert.ok(!fs.existsSync(lab.dir), "the run's directory is removed");
    },
  );
}
