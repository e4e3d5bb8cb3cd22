/**
 * The three SASL mechanisms, TSP versions 1.0 and 2.0.x, and the deployed-client details of
 * brief §8 (NUL bytes, PLAIN credentials unprompted, rspauth and 200 in separate segments), over
 * real TCP sockets on loopback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { allocationRequest, createSaslClient } from "../../lib/tsp/mod.ts";
import { clientIpv6, startTestServer, USERS } from "./_harness.ts";
import { frameCommand, rawTcp, tspOnce, TspTestPeer } from "./tsp_test_client.ts";

const CREATE = '<tunnel action="create" type="v4v6" proxy="no"><client><address type="ipv6">' +
  "2001:db8:100::77</address></client></tunnel>";

test("server sasl: ANONYMOUS, PLAIN and DIGEST-MD5 all lease; identities are recorded", async () => {
  const s = await startTestServer({ flags: { "allow-plain": true } });
  try {
    const anon = await tspOnce(s.peer(), allocationRequest(clientIpv6(1)));
    const plain = await tspOnce(
      s.peer({ mechanism: "PLAIN", user: "bob", pass: USERS.bob }),
      allocationRequest(clientIpv6(2)),
    );
    const digest = await tspOnce(
      s.peer({ mechanism: "DIGEST-MD5", user: "alice", pass: USERS.alice }),
      allocationRequest(clientIpv6(3)),
    );
    assert.deepEqual([anon, plain, digest].map((r) => r.status.code), [200, 200, 200]);
    const ok = s.events("auth.ok").join("\n");
    assert.match(ok, /identity=anonymous mechanism=ANONYMOUS/);
    assert.match(ok, /identity=bob mechanism=PLAIN/);
    assert.match(ok, /identity=alice mechanism=DIGEST-MD5/);
    assert.equal(s.events("auth.plain-cleartext").length, 1, "PLAIN is announced as cleartext");
    const leases = s.daemon.service.leases().leases;
    assert.deepEqual(leases.map((l) => l.identity).sort(), ["", "alice", "bob"]);
  } finally {
    await s.stop();
  }
});

test("server sasl: wrong password, unoffered mechanism and a TEP over PLAIN get 300", async () => {
  const s = await startTestServer({
    flags: { "allow-plain": true },
    file: { allowAnonymous: false },
  });
  try {
    await assert.rejects(
      TspTestPeer.connect(s.peer({ mechanism: "DIGEST-MD5", user: "alice", pass: "wrong" })),
      /auth failure/,
    );
    await assert.rejects(
      TspTestPeer.connect(s.peer({ mechanism: "PLAIN", user: "tep1", pass: USERS.tep1 })),
      /auth failure: server refused authentication \(300\)/,
    );
    const raw = await rawTcp("::1", s.tcp6);
    raw.write("VERSION=2.0.0\r\n");
    const caps = await raw.waitFor(/CAPABILITY.*\r\n/);
    assert.match(caps, /^CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=PLAIN\r\n$/);
    raw.write("AUTHENTICATE ANONYMOUS\r\n\0");
    await raw.waitFor(/300 Authentication failed\r\n$/);
    await raw.closed;
    assert.ok(s.events("auth.failed").length >= 3);
  } finally {
    await s.stop();
  }
});

test("server sasl: gogoc's PLAIN (NUL after AUTHENTICATE, raw credentials at once)", async () => {
  const s = await startTestServer({ flags: { "allow-plain": true } });
  try {
    const raw = await rawTcp("::1", s.tcp6);
    raw.write("VERSION=2.0.2\r\n");
    await raw.waitFor(/CAPABILITY[^\r]*\r\n$/);
    raw.write(`AUTHENTICATE PLAIN\r\n\0\0bob\0${USERS.bob}\r\n`);
    const t = await raw.waitFor(/200 Success\r\n$/);
    assert.ok(t.endsWith("AUTH=ANONYMOUS\r\n200 Success\r\n"), "nothing between them");
    raw.write(frameCommand(CREATE));
    const reply = await raw.waitFor(/<\/tunnel>\r\n$/);
    const m = /Content-length: (\d+)\r\n([\s\S]*)$/.exec(
      reply.slice(reply.indexOf("Content-length")),
    )!;
    assert.equal(Number(m[1]), new TextEncoder().encode(m[2]).length, "length counts status line");
    assert.match(m[2], /^200 Success\r\n<tunnel action="info"/);
    raw.destroy();
  } finally {
    await s.stop();
  }
});

test("server sasl: DIGEST-MD5 rspauth and 200 Success arrive as two separate segments", async () => {
  const s = await startTestServer();
  try {
    const raw = await rawTcp("::1", s.tcp6);
    raw.write("VERSION=2.0.0\r\n");
    await raw.waitFor(/CAPABILITY[^\r]*\r\n$/);
    raw.write("AUTHENTICATE DIGEST-MD5\r\n\0");
    const before = raw.chunks.length;
    const challengeText = await raw.waitFor(/CAPABILITY[^\r]*\r\n[A-Za-z0-9+/=]+\r\n$/);
    const challenge = challengeText.split("\r\n").at(-2)!;
    const sasl = createSaslClient("DIGEST-MD5", {
      user: "alice",
      pass: USERS.alice,
      digestUriHost: "[::1]",
      cnonce: () => "0a4f113b",
    });
    sasl.start();
    const step = sasl.step(new TextEncoder().encode(challenge));
    const steps = Array.isArray(step) ? step : [step];
    const send = steps.find((x) => x.kind === "send") as { line: Uint8Array };
    assert.ok(send, "the client answers the challenge");
    const mark = raw.chunks.length;
    raw.write(new Uint8Array([...send.line, 13, 10]));
    await raw.waitFor(/200 Success\r\n$/);
    const after = raw.chunks.slice(mark).map((c) => new TextDecoder().decode(c));
    assert.ok(after.length >= 2, `two segments, got ${JSON.stringify(after)}`);
    assert.match(after[0], /^[A-Za-z0-9+/=]+\r\n$/, "rspauth alone in the first segment");
    assert.equal(after.at(-1), "200 Success\r\n");
    assert.ok(before >= 1);
    raw.destroy();
  } finally {
    await s.stop();
  }
});

test("server versions: 1.0 has no accept step and says OK Authentication successful", async () => {
  const s = await startTestServer();
  try {
    const p = await TspTestPeer.connect(s.peer({ versions: ["1.0"] }));
    const r = await p.command(allocationRequest(clientIpv6(5)));
    assert.equal(r.status.code, 200);
    assert.equal(r.accepted, undefined, "no accept sent for 1.0");
    await p.close();
    const raw = await rawTcp("127.0.0.1", s.tcp4);
    raw.write("VERSION=1.0\r\nAUTHENTICATE ANONYMOUS\r\n");
    await raw.waitFor(/\r\nOK Authentication successful\r\n$/);
    raw.destroy();
  } finally {
    await s.stop();
  }
});

test("server versions: 2.0.x accepted; an unknown version gets 302 and the client falls back", async () => {
  const s = await startTestServer();
  try {
    for (const v of ["2.0.0", "2.0.1", "2.0.2", "2.0.150"]) {
      const p = await TspTestPeer.connect(s.peer({ versions: [v] }));
      assert.equal(p.version, v);
      await p.close();
    }
    const p = await TspTestPeer.connect(s.peer({ versions: ["3.0.0", "2.0.1"] }));
    assert.equal(p.version, "2.0.1");
    assert.equal(p.actions.filter((a) => a.kind === "reconnect").length, 1);
    await p.close();
  } finally {
    await s.stop();
  }
});

test("server versions: a rejected offer (2.x reject) releases the new lease", async () => {
  const s = await startTestServer();
  try {
    const r = await tspOnce(s.peer({ accept: false }), allocationRequest(clientIpv6(6)));
    assert.equal(r.status.code, 200);
    assert.equal(r.accepted, false);
    for (let i = 0; i < 50 && s.daemon.service.leases().leases.length > 0; i++) {
      await new Promise((res) => setTimeout(res, 10));
    }
    assert.equal(s.daemon.service.leases().leases.length, 0);
    assert.equal(s.events("lease.rejected").length, 1);
  } finally {
    await s.stop();
  }
});
