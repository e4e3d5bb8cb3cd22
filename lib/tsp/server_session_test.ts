import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import {
  allocationInfo,
  allocationRequest,
  leaseDeletePush,
  queryRequest,
} from "./dstm_profile.ts";
import { encodeTunnel } from "./encode_tunnel.ts";
import { encodeCommand } from "./frame_writer.ts";
import { isTsp20Version } from "./version.ts";
import {
  type ServerAction,
  type ServerSessionOptions,
  TspServerSession,
} from "./server_session.ts";
import { testSaslClient, testServerOptions } from "./_wire.ts";
import { mutateBytes, randomBytes } from "./_fuzz.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function srv(extra: Partial<ServerSessionOptions> = {}, now = 0): TspServerSession {
  return new TspServerSession(testServerOptions(extra), now);
}

function feed(s: TspServerSession, data: string | Uint8Array, now = 0): ServerAction[] {
  return s.handle({ kind: "data", now, bytes: typeof data === "string" ? enc.encode(data) : data });
}

function sent(actions: ServerAction[]): string[] {
  return actions.flatMap((a) => (a.kind === "send" ? [dec.decode(a.bytes)] : []));
}

function kinds(actions: ServerAction[]): string[] {
  return actions.map((a) => a.kind);
}

function frame(xml: string): string {
  return dec.decode(encodeCommand(xml));
}

const INFO = allocationInfo({
  ipv4: "198.51.100.7",
  tepIpv4: "192.0.2.1",
  tepIpv6: "2001:db8:ffff::1",
  lifetime: 1440,
});
const CREATE = frame(encodeTunnel(allocationRequest("2001:db8:100::10")));
const PUSH = leaseDeletePush({ ipv4: "198.51.100.7", clientIpv6: "2001:db8:100::10" });

function login(s: TspServerSession, version = "2.0.0"): void {
  feed(s, `VERSION=${version}\r\nAUTHENTICATE ANONYMOUS\r\n`);
  assert.equal(s.phase, "command");
}

test("server session: versions 1.0 and 2.0.x get CAPABILITY; others 302 and close", () => {
  for (const v of ["1.0", "2.0.0", "2.0.1", "2.0.2"]) {
    const a = feed(srv(), `VERSION=${v}\r\n`);
    assert.deepEqual(sent(a), [
      "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=PLAIN AUTH=ANONYMOUS\r\n",
    ], v);
  }
  for (const v of ["3.0", "1.0.1", "2.1.0"]) {
    const s = srv();
    const a = feed(s, `VERSION=${v}\r\n`);
    assert.deepEqual(sent(a), ["302 Unsupported client version\r\n"]);
    assert.deepEqual(kinds(a), ["send", "close"]);
    assert.equal(s.phase, "closed");
    assert.deepEqual(feed(s, "VERSION=2.0.0\r\n"), [], "nothing after close");
  }
  const g = feed(srv(), "HELLO\r\n");
  assert.deepEqual(sent(g), ["500 Invalid request format or specified length\r\n"]);
});

test("server session: acceptVersion decides instead of the list (1.0 and any 2.0.x)", () => {
  const any20 = { acceptVersion: (v: string) => v === "1.0" || isTsp20Version(v) };
  for (const v of ["1.0", "2.0.0", "2.0.2", "2.0.3", "2.0.150"]) {
    const s = srv({ ...any20, versions: ["1.0"] });
    const a = feed(s, `VERSION=${v}\r\n`);
    assert.match(sent(a)[0], /^CAPABILITY /, v);
    assert.equal(s.version, v);
  }
  for (const v of ["1.0.1", "2.1.0", "3.0"]) {
    const s = srv(any20);
    assert.deepEqual(sent(feed(s, `VERSION=${v}\r\n`)), ["302 Unsupported client version\r\n"]);
    assert.equal(s.phase, "closed");
  }
  // the accept step follows the version announced
  const s = srv(any20);
  login(s, "2.0.7");
  const r = feed(s, CREATE).find((x) => x.kind === "request");
  assert.ok(r?.kind === "request" && r.acceptStep);
  assert.throws(() => srv({ acceptVersion: "2.0.0" as never }), TypeError);
});

test("server session: 1302 redirect sends the broker list in the same write", () => {
  const s = srv({
    versions: ["2.0.0"],
    versionRedirect: {
      action: "list",
      brokers: [{ addresses: [{ type: "dn", value: "b.example" }] }],
    },
  });
  const a = feed(s, "VERSION=1.0\r\n");
  assert.deepEqual(sent(a), [
    '1302 Unsupported client version\r\n<tunnel action="list" type="broker"><broker><address type="dn">b.example</address></broker></tunnel>\r\n',
  ]);
  assert.equal(s.phase, "closed");
});

test("server session: unknown or unoffered mechanism gets 300 and close", () => {
  const s = srv({ mechanisms: ["ANONYMOUS"] });
  const a = feed(s, "VERSION=2.0.0\r\nAUTHENTICATE PLAIN\r\n");
  assert.deepEqual(sent(a).slice(1), ["300 Authentication failed\r\n"]);
  assert.equal(s.phase, "closed");
  const b = srv();
  assert.deepEqual(sent(feed(b, "VERSION=2.0.0\r\nAUTHENTICATE\r\n")).slice(1), [
    "300 Authentication failed\r\n",
  ]);
  const c = srv();
  assert.deepEqual(sent(feed(c, "VERSION=2.0.0\r\nLOGIN x\r\n")).slice(1), [
    "500 Invalid request format or specified length\r\n",
  ]);
});

test("server session: gogoc's ANONYMOUS with trailing NUL, then 200 Success", () => {
  const s = srv();
  const a = feed(s, "VERSION=2.0.2\r\nAUTHENTICATE ANONYMOUS\r\n\0");
  assert.deepEqual(sent(a), [
    "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=PLAIN AUTH=ANONYMOUS\r\n",
    "200 Success\r\n",
  ]);
  assert.ok(
    a.some((x) =>
      x.kind === "authenticated" && x.identity === "anonymous" && x.version === "2.0.2"
    ),
  );
});

test("server session: gogoc's PLAIN, raw \\0user\\0pass after AUTHENTICATE PLAIN\\r\\n\\0, nothing sent between", () => {
  const s = srv();
  const a = feed(s, "VERSION=2.0.2\r\nAUTHENTICATE PLAIN\r\n\0");
  assert.deepEqual(sent(a), [
    "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=PLAIN AUTH=ANONYMOUS\r\n",
  ]);
  const b = feed(s, "\0user1\0secret\r\n");
  assert.deepEqual(sent(b), ["200 Success\r\n"]);
  assert.equal(s.identity, "user1");
  const bad = srv();
  const c = feed(bad, "VERSION=2.0.0\r\nAUTHENTICATE PLAIN\r\n\0user1\0wrong\r\n");
  assert.deepEqual(sent(c).slice(1), ["300 Authentication failed\r\n"]);
  assert.equal(bad.phase, "closed");
});

test("server session: VERSION=1.0 success line is configurable", () => {
  const a = feed(srv(), "VERSION=1.0\r\nAUTHENTICATE ANONYMOUS\r\n");
  assert.equal(sent(a)[1], "OK Authentication successful\r\n");
  const b = feed(
    srv({ v1AuthSuccessLine: "200 Authentication successful" }),
    "VERSION=1.0\r\nAUTHENTICATE ANONYMOUS\r\n",
  );
  assert.equal(sent(b)[1], "200 Authentication successful\r\n");
});

test("server session: several commands per session, async handler, pipelined input kept in order", () => {
  const s = srv();
  login(s);
  const q1 = frame(encodeTunnel(queryRequest("198.51.100.7")));
  const q2 = frame(encodeTunnel(queryRequest("198.51.100.8")));
  const a = feed(s, q1 + q2);
  const reqs = a.filter((x) => x.kind === "request");
  assert.equal(reqs.length, 1, "second command waits for the first reply");
  assert.ok(s.awaitingHandler);
  assert.equal(s.pollAt(), null);
  const id1 = (reqs[0] as { id: number }).id;
  const b = s.handle({ kind: "reply", now: 5, id: id1, reply: { code: 308 } });
  assert.deepEqual(sent(b), ["Content-length: 35\r\n308 Requested Address Unavailable\r\n"]);
  const next = b.find((x) => x.kind === "request");
  assert.ok(next && next.kind === "request" && next.id === id1 + 1 && next.acceptStep === false);
  assert.deepEqual(
    s.handle({ kind: "reply", now: 6, id: 999, reply: { code: 200 } }).map((x) => x.kind),
    ["protocol-error"],
  );
});

test("server session: accept step for 2.x create; outcome reported", () => {
  const s = srv();
  login(s);
  const a = feed(s, CREATE);
  const req = a.find((x) => x.kind === "request");
  assert.ok(req && req.kind === "request" && req.acceptStep);
  s.handle({ kind: "reply", now: 0, id: req.id, reply: { code: 200, message: INFO } });
  assert.equal(s.phase, "accepting");
  assert.equal(s.pollAt(), 30000);
  const b = feed(s, frame('<tunnel action="accept"></tunnel>'));
  assert.deepEqual(b, [{ kind: "accept", id: req.id, accepted: true, outcome: "accept" }]);
  assert.equal(s.phase, "command");
  // reject
  const c = feed(s, CREATE);
  const req2 = c.find((x) => x.kind === "request")!;
  s.handle({
    kind: "reply",
    now: 0,
    id: (req2 as { id: number }).id,
    reply: { code: 200, message: INFO },
  });
  assert.deepEqual(kinds(feed(s, frame('<tunnel action="reject"></tunnel>'))), ["accept"]);
});

test("server session: no accept step for 1.0, for errors, or for query; a stray accept is ignored", () => {
  const s = srv();
  login(s, "1.0");
  const req = feed(s, CREATE).find((x) => x.kind === "request");
  assert.ok(req && req.kind === "request" && !req.acceptStep);
  s.handle({ kind: "reply", now: 0, id: req.id, reply: { code: 200, message: INFO } });
  assert.equal(s.phase, "command");
  assert.deepEqual(feed(s, frame('<tunnel action="accept"></tunnel>')), [{
    kind: "protocol-error",
    reason: "unexpected accept",
  }]);
  const t = srv();
  login(t);
  const r2 = feed(t, CREATE).find((x) => x.kind === "request")!;
  t.handle({ kind: "reply", now: 0, id: (r2 as { id: number }).id, reply: { code: 306 } });
  assert.equal(t.phase, "command");
});

test("server session: accept timeout and a command instead of accept are refusals", () => {
  const s = srv({ acceptTimeoutMs: 100 });
  login(s);
  const r = feed(s, CREATE).find((x) => x.kind === "request")!;
  s.handle({
    kind: "reply",
    now: 0,
    id: (r as { id: number }).id,
    reply: { code: 200, message: INFO },
  });
  assert.deepEqual(s.handle({ kind: "tick", now: 50 }), []);
  assert.deepEqual(s.handle({ kind: "tick", now: 100 }), [{
    kind: "accept",
    id: 1,
    accepted: false,
    outcome: "timeout",
  }]);
  const r2 = feed(s, CREATE).find((x) => x.kind === "request")!;
  s.handle({
    kind: "reply",
    now: 0,
    id: (r2 as { id: number }).id,
    reply: { code: 200, message: INFO },
  });
  const a = feed(s, frame(encodeTunnel(queryRequest("198.51.100.7"))));
  assert.deepEqual(kinds(a), ["accept", "request"]);
  assert.equal((a[0] as { outcome: string }).outcome, "no-accept");
  const t = srv();
  login(t);
  const r3 = feed(t, CREATE).find((x) => x.kind === "request")!;
  t.handle({
    kind: "reply",
    now: 0,
    id: (r3 as { id: number }).id,
    reply: { code: 200, message: INFO },
  });
  assert.deepEqual(t.handle({ kind: "closed", now: 1 }), [
    { kind: "accept", id: 1, accepted: false, outcome: "closed" },
    { kind: "close", reason: "peer-closed" },
  ]);
});

test("server session: parse failures answered 303/501/502/500 without reaching the handler", () => {
  const s = srv();
  login(s);
  const cases: [string, string][] = [
    [
      '<tunnel action="create" type="v6v4"><client><address type="ipv4">192.0.2.9</address></client></tunnel>',
      "303 Unsupported tunnel type",
    ],
    ['<tunnel action="create" type="v9"></tunnel>', "303 Unsupported tunnel type"],
    [
      '<tunnel action="create" type="v4v6"><client><address type="ipv4">1.2.3</address></client></tunnel>',
      "501 Invalid IPv4 address",
    ],
    [
      '<tunnel action="create" type="v4v6"><client><address type="ipv6">xyz</address></client></tunnel>',
      "502 Invalid IPv6 address",
    ],
    ["<tunnel", "500 Invalid request format or specified length"],
    [
      '<tunnel action="list" type="broker"></tunnel>',
      "500 Invalid request format or specified length",
    ],
  ];
  for (const [xml, status] of cases) {
    const a = feed(s, frame(xml));
    assert.ok(!a.some((x) => x.kind === "request"), xml);
    const body = `${status}\r\n`;
    assert.deepEqual(sent(a), [`Content-length: ${body.length}\r\n${body}`], xml);
    assert.equal(s.phase, "command");
  }
});

test("server session: framing errors answer 500 and close", () => {
  const s = srv();
  login(s);
  const a = feed(s, "Content-length: 999999\r\n");
  assert.deepEqual(sent(a), [
    "Content-length: 48\r\n500 Invalid request format or specified length\r\n",
  ]);
  assert.equal(s.phase, "closed");
  const t = srv();
  login(t);
  assert.deepEqual(kinds(feed(t, "hello\r\n")), ["protocol-error", "send", "close"]);
  const u = srv({ limits: { maxLineLength: 16, maxContentLength: 64, maxBuffered: 256 } });
  assert.deepEqual(sent(feed(u, "VERSION=2.0.0 and much more\r\n")), [
    "500 Invalid request format or specified length\r\n",
  ]);
});

test("server session: pushes go out at once when idle, after the pending reply otherwise", () => {
  const push = leaseDeletePush({ ipv4: "198.51.100.7", clientIpv6: "2001:db8:100::10" });
  const early = srv();
  assert.deepEqual(kinds(early.handle({ kind: "push", now: 0, message: push })), [
    "protocol-error",
  ]);
  const s = srv();
  login(s);
  const a = s.handle({ kind: "push", now: 0, message: push });
  assert.equal(sent(a).length, 1);
  assert.match(sent(a)[0], /^Content-length: \d+\r\n200 Success\r\n<tunnel action="delete"/);
  const r = feed(s, CREATE).find((x) => x.kind === "request")!;
  assert.deepEqual(s.handle({ kind: "push", now: 0, message: push }), [], "held while handling");
  s.handle({
    kind: "reply",
    now: 0,
    id: (r as { id: number }).id,
    reply: { code: 200, message: INFO },
  });
  const b = feed(s, frame('<tunnel action="accept"></tunnel>'));
  assert.deepEqual(kinds(b), ["accept", "send"], "held push flushed after the accept step");
});

test("server session: beyond maxPendingPushes a push is dropped with push-overflow", () => {
  const push = PUSH;
  const s = srv({ maxPendingPushes: 2 });
  login(s);
  const r = feed(s, CREATE).find((x) => x.kind === "request")!;
  assert.deepEqual(s.handle({ kind: "push", now: 0, message: push }), []);
  assert.deepEqual(s.handle({ kind: "push", now: 0, message: push }), []);
  assert.deepEqual(s.handle({ kind: "push", now: 0, message: push }), [
    { kind: "push-overflow", pending: 2 },
  ]);
  assert.equal(s.phase, "handling", "the session stays open: the shell decides");
  const a = s.handle({
    kind: "reply",
    now: 0,
    id: (r as { id: number }).id,
    reply: { code: 308 },
  });
  assert.equal(sent(a).length, 3, "the reply, then the two held pushes");
});

test("server session: partialSince tracks a started line or frame for the slow-read timer", () => {
  const s = srv();
  assert.equal(s.partialSince, null);
  feed(s, "\0\0", 5);
  assert.equal(s.partialSince, null, "NULs between lines start nothing");
  feed(s, "VERSION=2.0", 10);
  assert.equal(s.partialSince, 10);
  feed(s, ".0\r\nAUTHENT", 20);
  assert.equal(s.partialSince, 20, "a complete line restarts the clock for the next one");
  feed(s, "ICATE ANONYMOUS", 30);
  assert.equal(s.partialSince, 20, "more bytes of the same line do not");
  feed(s, "\r\n", 40);
  assert.equal(s.phase, "command");
  assert.equal(s.partialSince, null);
  feed(s, "Content-length: 500\r\n", 50);
  assert.equal(s.partialSince, 50, "a header without its body");
  feed(s, "<tunnel", 60);
  assert.equal(s.partialSince, 50);
  s.handle({ kind: "tick", now: 70 });
  s.handle({ kind: "push", now: 80, message: PUSH });
  assert.equal(s.partialSince, 50, "events that read nothing leave it");
  s.handle({ kind: "closed", now: 90 });
  assert.equal(s.partialSince, null);

  // while the handler works, held input is not the peer's delay; reading resumes after the reply
  const t = srv();
  login(t);
  const [c1, c2] = [CREATE, CREATE];
  const r = feed(t, c1 + c2.slice(0, 10), 100).find((x) => x.kind === "request")!;
  assert.equal(t.phase, "handling");
  assert.equal(t.partialSince, null);
  t.handle({ kind: "reply", now: 200, id: (r as { id: number }).id, reply: { code: 308 } });
  assert.equal(t.partialSince, 200);
  const r2 = feed(t, c2.slice(10), 300).find((x) => x.kind === "request");
  assert.ok(r2, "the second command completes");
  assert.equal(t.partialSince, null);
  t.handle({ kind: "reply", now: 310, id: (r2 as { id: number }).id, reply: { code: 308 } });
  feed(t, "Content-length: 2\r\nabContent-length: 9\r\n", 400);
  assert.equal(t.partialSince, 400, "complete frame then a started one");
  const u = srv();
  login(u);
  feed(u, "\r", 500);
  assert.equal(u.partialSince, 500);
  feed(u, "\nContent-len", 600);
  assert.equal(u.partialSince, 600, "an empty line between frames ended; a header began");
});

test("server session: DIGEST-MD5 rspauth, flush-pause, then 200 Success as a separate send", () => {
  const s = srv({ flushPauseMs: 30 });
  const a = feed(s, "VERSION=2.0.0\r\nAUTHENTICATE DIGEST-MD5\r\n");
  assert.equal(sent(a).length, 2, "capability and challenge");
  assert.equal(s.phase, "sasl");
  const client = testSaslClient("user1")("DIGEST-MD5");
  client.start();
  const challenge = enc.encode(sent(a)[1].trimEnd());
  const step = client.step(challenge);
  assert.equal(step.kind, "send");
  const b = feed(s, (step as { line: Uint8Array }).line);
  assert.equal(b.length, 0, "no line end yet");
  const c = feed(s, "\r\n");
  assert.deepEqual(kinds(c), ["send", "flush-pause", "send", "authenticated"]);
  assert.deepEqual(c[1], { kind: "flush-pause", ms: 30 });
  assert.equal(sent(c)[1], "200 Success\r\n");
  assert.deepEqual(client.step(enc.encode(sent(c)[0].trimEnd())), { kind: "verified" });
});

test("server session: timeouts for authentication and (optional) idleness", () => {
  const s = srv({ authTimeoutMs: 1000 }, 500);
  assert.equal(s.pollAt(), 1500);
  feed(s, "VERSION=2.0.0\r\n");
  assert.deepEqual(s.handle({ kind: "tick", now: 1499 }), []);
  assert.deepEqual(s.handle({ kind: "tick", now: 1500 }), [{
    kind: "close",
    reason: "authentication timeout",
  }]);
  const t = srv({ idleTimeoutMs: 100 });
  login(t);
  assert.equal(t.pollAt(), 100);
  assert.deepEqual(kinds(t.handle({ kind: "tick", now: 100 })), ["close"]);
  const u = srv();
  login(u);
  assert.equal(u.pollAt(), null, "no idle timeout by default (persistent query sessions)");
});

test("server session: a handler reply the encoder refuses becomes 310", () => {
  const s = srv();
  login(s);
  const r = feed(s, CREATE).find((x) => x.kind === "request")!;
  const bad = {
    action: "info",
    type: "v4v6",
    client: { addresses: [{ type: "ipv4", value: "bad" }] },
  } as const;
  const a = s.handle({
    kind: "reply",
    now: 0,
    id: (r as { id: number }).id,
    reply: { code: 200, message: bad as never },
  });
  assert.deepEqual(kinds(a), ["protocol-error", "send"]);
  assert.deepEqual(sent(a), ["Content-length: 23\r\n310 Server side error\r\n"]);
  const c = s.handle({ kind: "reply", now: 0, id: 2, reply: { code: 200 } });
  assert.deepEqual(kinds(c), ["protocol-error"]);
  const d = feed(s, CREATE).find((x) => x.kind === "request")!;
  const e = s.handle({
    kind: "reply",
    now: 0,
    id: (d as { id: number }).id,
    reply: { code: 306, close: true },
  });
  assert.deepEqual(kinds(e), ["send", "close"]);
});

test("server session: bad options throw TypeError", () => {
  assert.throws(() => new TspServerSession({} as ServerSessionOptions, 0), TypeError);
});

test("server session: 20k random and mutated client streams never throw and end defined", () => {
  const rng = new Prng(0x5e55);
  const seeds = [
    enc.encode(
      "VERSION=2.0.0\r\nAUTHENTICATE ANONYMOUS\r\n\0" + CREATE +
        frame('<tunnel action="accept"></tunnel>'),
    ),
    enc.encode(
      "VERSION=1.0\r\nAUTHENTICATE PLAIN\r\n\0\0user1\0secret\r\n" +
        frame(encodeTunnel(queryRequest("198.51.100.7"))),
    ),
  ];
  const phases = new Set([
    "version",
    "authenticate",
    "sasl",
    "command",
    "handling",
    "accepting",
    "closed",
  ]);
  for (let i = 0; i < 20_000; i++) {
    const s = srv({ limits: { maxLineLength: 256, maxContentLength: 512, maxBuffered: 2048 } });
    const input = i % 4 === 0 ? randomBytes(rng, 200) : mutateBytes(rng, seeds[i % 2]);
    let off = 0;
    while (off < input.length) {
      const n = 1 + rng.int(64);
      for (const a of feed(s, input.subarray(off, off + n), off)) {
        if (a.kind === "request") {
          s.handle({ kind: "reply", now: off, id: a.id, reply: { code: 200, message: INFO } });
        }
      }
      const since = s.partialSince;
      assert.ok(since === null || (since <= off && s.phase !== "closed"), "partialSince");
      off += n;
    }
    s.handle({ kind: "tick", now: 1e9 });
    assert.ok(phases.has(s.phase));
    s.handle({ kind: "closed", now: 1e9 });
    assert.equal(s.phase, "closed");
  }
});
