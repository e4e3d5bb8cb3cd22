import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { buildDomain } from "./topology.ts";
import { nsTry } from "./netns.ts";

const root = typeof process.getuid === "function" && process.getuid() === 0;

test(
  "topology: the Figure 1 domain builds, routes IPv6 end to end, and tears down completely",
  { skip: root ? false : "needs root (network namespaces)" },
  () => {
    const d = buildDomain({
      prefix: `dt${process.pid}-`,
      clients: 2,
      spoofer: true,
      outsider: true,
    });
    try {
      // IPv6 reachability across r6: client -> server, client -> TEP link address.
      const ping = nsTry(d.clients[0].ns, "ping", ["-6", "-c1", "-W2", d.server.ipv6]);
      assert.equal(ping.status, 0, ping.stdout + ping.stderr);
      const ping2 = nsTry(d.clients[1].ns, "ping", ["-6", "-c1", "-W2", d.teps[1].linkIpv6]);
      assert.equal(ping2.status, 0, ping2.stdout + ping2.stderr);
      // IPv4 side: z -> TEP2's IPv4.
      const ping4 = nsTry(d.z.ns, "ping", ["-c1", "-W2", d.teps[1].ipv4]);
      assert.equal(ping4.status, 0, ping4.stdout + ping4.stderr);
      // The domain has no IPv4 address anywhere.
      const a = nsTry(d.clients[0].ns, "ip", ["-4", "-o", "addr", "show", "scope", "global"]);
      assert.equal(a.stdout.trim(), "");
      assert.equal(d.run.alive().length, 10);
    } finally {
      d.run.teardown();
    }
    assert.deepEqual(d.run.alive(), []);
  },
);
