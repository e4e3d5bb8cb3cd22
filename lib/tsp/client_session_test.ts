import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import {
  type ClientAction,
  type ClientSessionOptions,
  TspClientSession,
} from "./client_session.ts";
import { allocationInfo, allocationRequest, bindingPush, queryRequest } from "./dstm_profile.ts";
import { encodeTunnel } from "./encode_tunnel.ts";
import { encodeReply } from "./frame_writer.ts";
import type { MechanismName } from "./sasl/mod.ts";
import { testSaslClient } from "./_wire.ts";
import { mutateBytes, randomBytes } from "./_fuzz.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const CLIENT6 = "2001:db8:100::10";
const CAPS = "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=PLAIN AUTH=ANONYMOUS\r\n";
const INFO = allocationInfo({
  ipv4: "198.51.100.7",
  tepIpv4: "192.0.2.1",
  tepIpv6: "2001:db8:ffff::1",
  lifetime: 1440,
});

function cli(
  extra: Partial<ClientSessionOptions> = {},
  mechanism: MechanismName = "ANONYMOUS",
): TspClientSession {
  return new TspClientSession({
    mechanism,
    createSasl: testSaslClient(),
    versions: ["2.0.0"],
    commands: [allocationRequest(CLIENT6)],
    ...extra,
  });
}

function feed(c: TspClientSession, data: string | Uint8Array, now = 0): ClientAction[] {
  return c.handle({ kind: "data", now, bytes: typeof data === "string" ? enc.encode(data) : data });
}

function sent(actions: ClientAction[]): string[] {
  return actions.flatMap((a) => (a.kind === "send" ? [dec.decode(a.bytes)] : []));
}

function kinds(actions: ClientAction[]): string[] {
  return actions.map((a) => a.kind);
}

function ready(c: TspClientSession): ClientAction[] {
  c.handle({ kind: "connected", now: 0 });
  return feed(c, CAPS + "200 Success\r\n");
}

test("client session: VERSION, AUTHENTICATE, command, accept, done", () => {
  const c = cli();
  assert.deepEqual(sent(c.handle({ kind: "connected", now: 0 })), ["VERSION=2.0.0\r\n"]);
  assert.ok(c.awaitingServer());
  assert.deepEqual(sent(feed(c, CAPS)), ["AUTHENTICATE ANONYMOUS\r\n"]);
  const a = feed(c, "200 Success\r\n");
  assert.deepEqual(kinds(a), ["ready", "send"]);
  assert.equal(c.phase, "awaiting");
  const b = feed(c, encodeReply(200, undefined, encodeTunnel(INFO)));
  assert.deepEqual(kinds(b), ["send", "response", "done", "close"]);
  assert.equal(sent(b)[0], 'Content-length: 35\r\n<tunnel action="accept"></tunnel>\r\n');
  const r = b[1] as Extract<ClientAction, { kind: "response" }>;
  assert.equal(r.accepted, true);
  assert.deepEqual(r.message, INFO);
  assert.equal(c.phase, "closed");
  assert.deepEqual(feed(c, "junk\r\n"), []);
});

test("client session: capability must offer V4V6 and the mechanism", () => {
  const a = cli();
  a.handle({ kind: "connected", now: 0 });
  const x = feed(a, "CAPABILITY TUNNEL=V6V4 AUTH=ANONYMOUS\r\n");
  assert.deepEqual(kinds(x), ["failed", "close"]);
  assert.equal((x[0] as { stage: string }).stage, "capability");
  const b = cli({}, "PLAIN");
  b.handle({ kind: "connected", now: 0 });
  const y = feed(b, "CAPABILITY TUNNEL=V4V6 AUTH=ANONYMOUS\r\n");
  assert.match((y[0] as { reason: string }).reason, /AUTH=PLAIN/);
});

test("client session: 300 fails authentication; PLAIN sends raw credentials at once", () => {
  const c = cli({}, "PLAIN");
  c.handle({ kind: "connected", now: 0 });
  const a = feed(c, CAPS);
  assert.deepEqual(sent(a), ["AUTHENTICATE PLAIN\r\n", "\0user1\0secret\r\n"]);
  const b = feed(c, "300 Authentication failed\r\n");
  assert.equal(b[0].kind, "failed");
  assert.equal((b[0] as { stage: string }).stage, "auth");
  assert.equal((b[0] as { status: { code: number } }).status.code, 300);
});

test("client session: DIGEST-MD5 success without rspauth is refused (mutual authentication)", () => {
  const c = cli({}, "DIGEST-MD5");
  c.handle({ kind: "connected", now: 0 });
  feed(c, CAPS);
  const a = feed(c, "200 Success\r\n");
  assert.deepEqual(kinds(a), ["failed", "close"]);
  assert.match((a[0] as { reason: string }).reason, /rspauth/);
});

test("client session: tsps-style unframed error status answers the command, no accept", () => {
  const c = cli();
  ready(c);
  const a = feed(c, "306 Address Pool Exhausted\r\n");
  assert.deepEqual(kinds(a), ["response", "done", "close"]);
  assert.equal((a[0] as { status: { code: number } }).status.code, 306);
  assert.equal((a[0] as { accepted?: boolean }).accepted, undefined);
});

test("client session: reject per policy; the default policy rejects an info without a lease", () => {
  const c = cli({ acceptPolicy: () => false });
  ready(c);
  const a = feed(c, encodeReply(200, undefined, encodeTunnel(INFO)));
  assert.equal(sent(a)[0], 'Content-length: 35\r\n<tunnel action="reject"></tunnel>\r\n');
  assert.equal((a[1] as { accepted: boolean }).accepted, false);
  const d = cli();
  ready(d);
  const bare = { action: "info", type: "v4v6", lifetime: 5 } as const;
  assert.match(sent(feed(d, encodeReply(200, undefined, encodeTunnel(bare))))[0], /reject/);
});

test("client session: no accept step for VERSION=1.0", () => {
  const c = cli({ versions: ["1.0"] });
  c.handle({ kind: "connected", now: 0 });
  feed(c, CAPS + "OK Authentication successful\r\n");
  const a = feed(c, encodeReply(200, undefined, encodeTunnel(INFO)));
  assert.deepEqual(kinds(a), ["response", "done", "close"]);
});

test("client session: 302 falls back through the list, then fails at version", () => {
  const c = cli({ versions: ["2.0.2", "1.0"] });
  c.handle({ kind: "connected", now: 0 });
  assert.deepEqual(feed(c, "302 Unsupported client version\r\n"), [{
    kind: "reconnect",
    version: "1.0",
  }]);
  assert.equal(c.phase, "connect");
  assert.deepEqual(
    c.handle({ kind: "closed", now: 0 }),
    [],
    "the old transport closing is expected",
  );
  assert.deepEqual(sent(c.handle({ kind: "connected", now: 0 })), ["VERSION=1.0\r\n"]);
  const a = feed(c, "302 Unsupported client version\r\n");
  assert.equal(a[0].kind, "failed");
  assert.equal((a[0] as { stage: string }).stage, "version");
});

test("client session: redirect at VERSION (unframed list over several lines)", () => {
  const c = cli();
  c.handle({ kind: "connected", now: 0 });
  assert.deepEqual(
    feed(c, '1302 Unsupported client version\r\n<tunnel action="list" type="broker">\r\n'),
    [],
  );
  assert.equal(c.phase, "redirect-list");
  const a = feed(c, '<broker><address type="ipv4">192.0.2.9</address></broker>\r\n</tunnel>\r\n');
  assert.deepEqual(kinds(a), ["redirect", "close"]);
  assert.deepEqual((a[0] as { brokers: unknown }).brokers, [{
    addresses: [{ type: "ipv4", value: "192.0.2.9" }],
  }]);
});

test("client session: redirect at create (framed list)", () => {
  const c = cli();
  ready(c);
  const list = encodeTunnel({
    action: "list",
    brokers: [{ addresses: [{ type: "dn", value: "b.example" }] }],
  });
  const a = feed(c, encodeReply(1301, undefined, list));
  assert.deepEqual(kinds(a), ["redirect", "close"]);
  assert.equal((a[0] as { status: { baseCode: number } }).status.baseCode, 301);
});

test("client session: response timeout and transport loss fail the session", () => {
  const c = cli({ responseTimeoutMs: 1000 });
  c.handle({ kind: "connected", now: 100 });
  assert.equal(c.pollAt(), 1100);
  assert.deepEqual(c.handle({ kind: "tick", now: 1099 }), []);
  const a = c.handle({ kind: "tick", now: 1100 });
  assert.equal((a[0] as { stage: string }).stage, "timeout");
  const d = cli();
  d.handle({ kind: "connected", now: 0 });
  assert.equal((d.handle({ kind: "closed", now: 1 })[0] as { stage: string }).stage, "closed");
});

test("client session: persistent mode queues commands, reports pushes, ends on close", () => {
  const c = cli({ commands: [], persistent: true });
  assert.deepEqual(
    c.handle({ kind: "command", now: 0, message: queryRequest("198.51.100.7") }),
    [],
  );
  const r = ready(c);
  assert.deepEqual(
    kinds(r),
    ["send", "ready", "send"],
    "AUTHENTICATE, then the queued command once ready",
  );
  const push = bindingPush("remove", { ipv4: "198.51.100.9", clientIpv6: "2001:db8:100::11" });
  assert.deepEqual(feed(c, encodeReply(200, undefined, encodeTunnel(push))), [{
    kind: "push",
    message: push,
  }]);
  assert.equal(c.phase, "awaiting", "a push is not the answer");
  const a = feed(c, encodeReply(308));
  assert.deepEqual(kinds(a), ["response"]);
  assert.equal(c.phase, "ready");
  assert.ok(!c.awaitingServer());
  assert.deepEqual(feed(c, encodeReply(308)).map((x) => x.kind), ["protocol-error"], "unsolicited");
  assert.deepEqual(kinds(c.handle({ kind: "close", now: 0 })), ["done", "close"]);
  const d = cli({ commands: [], persistent: true });
  ready(d);
  assert.deepEqual(kinds(d.handle({ kind: "closed", now: 0 })), ["done", "close"]);
});

test("client session: bad options throw TypeError", () => {
  assert.throws(() => new TspClientSession({} as ClientSessionOptions), TypeError);
  assert.throws(() => cli({ versions: [] }), TypeError);
});

test("client session: 20k random and mutated server streams never throw and end defined", () => {
  const rng = new Prng(0xc11e);
  const seeds = [
    enc.encode(
      CAPS + "200 Success\r\n" + dec.decode(encodeReply(200, undefined, encodeTunnel(INFO))),
    ),
    enc.encode(CAPS + "OK Authentication successful\r\n308 Requested Address Unavailable\r\n"),
    enc.encode(
      '1302 Unsupported client version\r\n<tunnel action="list" type="broker"></tunnel>\r\n',
    ),
  ];
  const phases = new Set([
    "connect",
    "version",
    "redirect-list",
    "auth",
    "ready",
    "awaiting",
    "closed",
  ]);
  for (let i = 0; i < 20_000; i++) {
    const c = cli({
      versions: i % 2 ? ["2.0.0"] : ["1.0"],
      limits: { maxLineLength: 256, maxContentLength: 512, maxBuffered: 2048 },
    });
    c.handle({ kind: "connected", now: 0 });
    const input = i % 4 === 0 ? randomBytes(rng, 200) : mutateBytes(rng, seeds[i % 3]);
    let off = 0;
    while (off < input.length) {
      const n = 1 + rng.int(64);
      for (const a of feed(c, input.subarray(off, off + n))) {
        if (a.kind === "reconnect") c.handle({ kind: "connected", now: 0 });
      }
      off += n;
    }
    c.handle({ kind: "tick", now: 1e9 });
    assert.ok(phases.has(c.phase));
  }
});
