import { test } from "node:test";
import assert from "node:assert/strict";
import { bindingPush } from "../lib/tsp/dstm_profile.ts";
import { FakeTspServer } from "./_fake_tsp_server.ts";
import { type BindingPush, type QueryAnswer, TspLink, type TspLinkEvents } from "./tsp_link.ts";

interface Seen {
  ups: number;
  downs: { reason: string; retryInMs: number; wasUp: boolean }[];
  pushes: BindingPush[];
  answers: [string, QueryAnswer][];
}

function recorder(): { seen: Seen; events: TspLinkEvents } {
  const seen: Seen = { ups: 0, downs: [], pushes: [], answers: [] };
  return {
    seen,
    events: {
      up: () => void seen.ups++,
      down: (d) => void seen.downs.push(d),
      push: (p) => void seen.pushes.push(p),
      answer: (ipv4, a) => void seen.answers.push([ipv4, a]),
      protocolError: () => {},
    },
  };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const TEP = { ipv4: "192.0.2.2", ipv6: "2001:db8:ffff::2" };

test("tep tsp link: authenticates, answers queries in order, delivers pushes", async () => {
  const server = await FakeTspServer.start({ tep2: "tep2-secret" });
  server.leases.set("198.51.100.7", "2001:db8:100::10");
  const { seen, events } = recorder();
  const link = new TspLink(
    { host: "::1", port: server.port, user: "tep2", password: "tep2-secret", tep: TEP },
    events,
  );
  try {
    assert.equal(link.query("198.51.100.7"), false, "no query before the session is up");
    link.start();
    await until("up", () => seen.ups === 1);
    assert.equal(link.state, "up");
    assert.deepEqual(server.authenticated, ["tep2"]);
    assert.ok(link.query("198.51.100.7"));
    assert.ok(link.query("198.51.100.8"));
    await until("answers", () => seen.answers.length === 2);
    assert.deepEqual(seen.answers, [
      ["198.51.100.7", { kind: "found", clientIpv6: "2001:db8:100::10", lifetime: 7 }],
      ["198.51.100.8", { kind: "refused", code: 308 }],
    ]);
    server.push(
      bindingPush("add", { ipv4: "198.51.100.9", clientIpv6: "2001:db8:100::11", lifetime: 3 }),
    );
    server.push(bindingPush("remove", { ipv4: "198.51.100.9", clientIpv6: "2001:db8:100::11" }));
    await until("pushes", () => seen.pushes.length === 2);
    assert.deepEqual(seen.pushes, [
      { kind: "add", ipv4: "198.51.100.9", clientIpv6: "2001:db8:100::11", lifetime: 3 },
      { kind: "remove", ipv4: "198.51.100.9", clientIpv6: "2001:db8:100::11" },
    ]);
    assert.equal(link.counters.queriesSent, 2);
  } finally {
    await link.stop();
    await server.stop();
  }
});

test("tep tsp link: a lost server fails pending queries and is reconnected with backoff", async () => {
  const server = await FakeTspServer.start({ tep2: "tep2-secret" });
  const { seen, events } = recorder();
  const link = new TspLink({
    host: "::1",
    port: server.port,
    user: "tep2",
    password: "tep2-secret",
    tep: TEP,
    backoff: { initialMs: 50, maxMs: 200 },
    random: () => 0,
  }, events);
  try {
    link.start();
    await until("up", () => seen.ups === 1);
    server.holdQueries = true;
    assert.ok(link.query("198.51.100.7"));
    await until("query received", () => server.queries.length === 1);
    assert.equal(link.pendingQueries, 1);
    server.dropAll();
    await until("down", () => seen.downs.length === 1);
    assert.equal(seen.answers[0][0], "198.51.100.7");
    assert.equal(seen.answers[0][1].kind, "failed");
    assert.equal(link.pendingQueries, 0);
    assert.deepEqual(seen.downs[0].retryInMs, 50);
    assert.equal(seen.downs[0].wasUp, true);
    assert.equal(link.query("198.51.100.7"), false, "queries fail fast while down");
    await until("up again", () => seen.ups === 2);
    assert.equal(server.connections, 2);
    // The second loss starts the backoff again from the first step: the session had been up.
    server.dropAll();
    await until("down again", () => seen.downs.length === 2);
    assert.equal(seen.downs[1].retryInMs, 50);
  } finally {
    await link.stop();
    await server.stop();
  }
});

test("tep tsp link: a wrong password never comes up and backs off doubling", async () => {
  const server = await FakeTspServer.start({ tep2: "tep2-secret" });
  const { seen, events } = recorder();
  const link = new TspLink({
    host: "::1",
    port: server.port,
    user: "tep2",
    password: "wrong",
    tep: TEP,
    backoff: { initialMs: 20, maxMs: 80 },
    random: () => 0,
  }, events);
  try {
    link.start();
    await until("four failures", () => seen.downs.length >= 4);
    assert.equal(seen.ups, 0);
    assert.deepEqual(seen.downs.slice(0, 4).map((d) => d.retryInMs), [20, 40, 80, 80]);
    assert.match(seen.downs[0].reason, /auth/);
  } finally {
    await link.stop();
    await server.stop();
  }
});
