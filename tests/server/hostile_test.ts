/**
 * Hostile input on real sockets: garbage, huge Content-length, unclosed XML, NUL floods,
 * slow-loris connections, 1000 concurrent connections and the connection cap. Throughout, a
 * well-behaved client must still get its lease (we measure that it is answered, not how fast),
 * and no exception may escape a handler (`internal_errors_total` stays 0).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { allocationRequest } from "../../lib/tsp/mod.ts";
import { Prng } from "../../lib/testing/prng.ts";
import { clientIpv6, sleep, startTestServer, type TestServer, until } from "./_harness.ts";
import { frameCommand, type RawTcp, rawTcp, rawUdp, tspOnce } from "./tsp_test_client.ts";

let wellBehaved = 1000;

/** A fresh client gets a lease (and we say so if it does not). */
async function wellBehavedClientIsServed(s: TestServer): Promise<void> {
  const r = await tspOnce(
    s.peer({ responseTimeoutMs: 10000 }),
    allocationRequest(clientIpv6(wellBehaved++)),
  );
  assert.equal(r.status.code, 200, "a well-behaved client is served");
}

function noDefects(s: TestServer): void {
  assert.equal(
    s.daemon.counters.get("internal_errors_total"),
    0,
    s.events("internal-error").join("\n"),
  );
}

const HOSTILE = { authTimeoutSeconds: 1, frameTimeoutSeconds: 1, maxConnections: 3000 };

async function authenticated(s: TestServer): Promise<RawTcp> {
  const c = await rawTcp("::1", s.tcp6);
  c.write("VERSION=2.0.0\r\nAUTHENTICATE ANONYMOUS\r\n");
  await c.waitFor(/200 Success\r\n$/);
  return c;
}

test("server hostile: random garbage gets 500 or a timeout, never a crash", async () => {
  const s = await startTestServer({ file: HOSTILE });
  const rng = new Prng(0xd57a);
  try {
    const conns: RawTcp[] = [];
    for (let i = 0; i < 30; i++) {
      const c = i % 2 === 0 ? await rawTcp("::1", s.tcp6) : await authenticated(s);
      c.write(rng.bytes(1 + rng.int(3000)));
      conns.push(c);
    }
    await wellBehavedClientIsServed(s);
    await Promise.race([
      Promise.all(conns.map((c) => c.closed)),
      sleep(4000).then(() => assert.fail("garbage connections were not all closed")),
    ]);
    for (const c of conns) {
      const t = c.text();
      if (t.length > 0) assert.match(t, /(^|\n)(Content-length: \d+\r\n)?(500|302|300) /);
    }
    const u = await rawUdp("::1", s.udp6, 500);
    for (let i = 0; i < 20; i++) {
      await u.send(i, rng.bytes(rng.int(1200))).catch(() => {}); // empty, 500 or nothing
    }
    u.close();
    await wellBehavedClientIsServed(s);
    noDefects(s);
  } finally {
    await s.stop();
  }
});

test("server hostile: huge Content-length, an oversized line and broken XML are answered and closed", async () => {
  const s = await startTestServer({ file: HOSTILE });
  try {
    const huge = await authenticated(s);
    huge.write("Content-length: 999999999\r\n");
    await huge.waitFor(
      /Content-length: \d+\r\n500 Invalid request format or specified length\r\n$/,
    );
    await huge.closed;

    const long = await rawTcp("::1", s.tcp6);
    long.write("A".repeat(100_000));
    await long.waitFor(/^500 /);
    await long.closed;

    const broken = await authenticated(s);
    broken.write(frameCommand('<tunnel action="create" type="v4v6"><client><address type='));
    await broken.waitFor(/Content-length: \d+\r\n500 [^\r]*\r\n$/);

    // unclosed elements: the brief's single repair applies (§3.2), and the answer is a lease
    const unclosed = await authenticated(s);
    unclosed.write(frameCommand(
      `<tunnel action="create" type="v4v6"><client><address type="ipv6">${clientIpv6(1)}</address>`,
    ));
    await unclosed.waitFor(/200 Success\r\n<tunnel action="info"[^\r]*\r\n$/);
    unclosed.destroy();
    assert.equal(s.events("request.repaired-xml").length, 1);

    const notXml = await authenticated(s);
    notXml.write(frameCommand("hello"));
    await notXml.waitFor(/Content-length: \d+\r\n500 /);
    notXml.destroy();
    await wellBehavedClientIsServed(s);
    noDefects(s);
  } finally {
    await s.stop();
  }
});

test("server hostile: NUL floods are skipped between lines, and refused inside one", async () => {
  const s = await startTestServer({ file: HOSTILE });
  try {
    const c = await rawTcp("::1", s.tcp6);
    const nul = new Uint8Array(1 << 20);
    for (let i = 0; i < 4; i++) c.write(nul);
    c.write("VERSION=2.0.0\r\n\0\0\0AUTHENTICATE ANONYMOUS\r\n\0");
    await c.waitFor(/200 Success\r\n$/);
    c.write(nul);
    c.write(frameCommand(
      `<tunnel action="create" type="v4v6"><client><address type="ipv6">${
        clientIpv6(2)
      }</address></client></tunnel>`,
    ));
    await c.waitFor(/<\/tunnel>\r\n$/);
    c.destroy();

    const inLine = await rawTcp("::1", s.tcp6);
    inLine.write("VERSION=2");
    inLine.write(nul);
    await inLine.waitFor(/^500 /);
    await inLine.closed;
    await wellBehavedClientIsServed(s);
    noDefects(s);
  } finally {
    await s.stop();
  }
});

test("server hostile: slow-loris connections are cut by the auth and slow-read timers", async () => {
  const s = await startTestServer({ file: HOSTILE });
  const timers: ReturnType<typeof setInterval>[] = [];
  try {
    const pre: RawTcp[] = [];
    for (let i = 0; i < 40; i++) {
      const c = await rawTcp(i % 2 ? "::1" : "127.0.0.1", i % 2 ? s.tcp6 : s.tcp4);
      const msg = "VERSION=2.0.0\r\n";
      let k = 0;
      timers.push(setInterval(() => c.write(msg[k++ % msg.length].replace("\n", "")), 150));
      pre.push(c);
    }
    const post = await authenticated(s);
    post.write("Content-length: 500\r\n<tunnel");
    const trickle = await authenticated(s);
    timers.push(setInterval(() => trickle.write(" "), 100));
    trickle.write("Content-length: 5000\r\n");
    await wellBehavedClientIsServed(s);
    await Promise.race([
      Promise.all([...pre.map((c) => c.closed), post.closed, trickle.closed]),
      sleep(5000).then(() => assert.fail("slow connections were not closed")),
    ]);
    assert.ok(s.daemon.counters.get("timeouts_total", ["auth"]) >= 40);
    assert.equal(s.daemon.counters.get("timeouts_total", ["frame"]), 2);
    await wellBehavedClientIsServed(s);
    noDefects(s);
  } finally {
    for (const t of timers) clearInterval(t);
    await s.stop();
  }
});

test("server hostile: 1000 concurrent connections, and a well-behaved client is still served", async () => {
  const s = await startTestServer({ file: { ...HOSTILE, authTimeoutSeconds: 5 } });
  const socks: net.Socket[] = [];
  try {
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        new Promise<void>((resolve, reject) => {
          const sock = net.connect({
            host: i % 2 ? "::1" : "127.0.0.1",
            port: i % 2 ? s.tcp6 : s.tcp4,
          });
          sock.on("error", () => {});
          sock.once("connect", () => {
            if (i % 3 === 0) sock.write("VERSION=2.0.0\r\n");
            resolve();
          });
          sock.once("error", reject);
          socks.push(sock);
        })),
    );
    await until(
      () => s.daemon.service !== undefined && statusSessions(s) >= 1000,
      5000,
      "1000 sessions",
    );
    await wellBehavedClientIsServed(s);
    await wellBehavedClientIsServed(s);
    noDefects(s);
  } finally {
    for (const sock of socks) sock.destroy();
    await s.stop();
  }
});

function statusSessions(s: TestServer): number {
  return s.daemon.counters.get("connections_total", ["tcp"]);
}

test("server hostile: beyond maxConnections new peers get 530 Server too busy (TCP and UDP)", async () => {
  const s = await startTestServer({ file: { ...HOSTILE, maxConnections: 16 } });
  const held: RawTcp[] = [];
  try {
    for (let i = 0; i < 16; i++) held.push(await rawTcp("::1", s.tcp6));
    await until(() => statusSessions(s) === 16, 2000, "16 sessions");
    const extra = await rawTcp("::1", s.tcp6);
    await extra.waitFor(/^530 Server too busy\r\n$/);
    await extra.closed;
    const u = await rawUdp("::1", s.udp6);
    const busy = await u.send(7, "VERSION=2.0.0\r\n");
    assert.equal(new TextDecoder().decode(busy.payload), "530 Server too busy\r\n");
    assert.equal(busy.sequence, 7);
    u.close();
    for (const c of held) c.destroy();
    await until(() => s.daemon.counters.get("connections_total", ["tcp"]) === 16, 1000, "count");
    await sleep(100);
    await wellBehavedClientIsServed(s);
    assert.equal(s.daemon.counters.get("connections_refused_total", ["tcp"]), 1);
    noDefects(s);
  } finally {
    await s.stop();
  }
});
