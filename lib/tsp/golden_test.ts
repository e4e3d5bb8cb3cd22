/**
 * Golden exchanges of protocol.md §2.10, §3.1 (as repaired), §3.3, §8.7 and the pushes of
 * PUSH.md, byte for byte, in both directions: the client session writes the C lines and reads the
 * S lines, the server session reads the C lines and writes the S lines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ClientAction, TspClientSession } from "./client_session.ts";
import {
  allocationInfo,
  allocationRequest,
  bindingPush,
  leaseDeletePush,
  queryInfo,
  queryRequest,
  readPush,
  releaseRequest,
  renewalRequest,
} from "./dstm_profile.ts";
import { encodeTunnel } from "./encode_tunnel.ts";
import { FrameReader } from "./frame_reader.ts";
import { encodeCommand, encodeReply } from "./frame_writer.ts";
import { parseTunnel } from "./parse_tunnel.ts";
import { parseReplyBody } from "./reply_body.ts";
import { createSaslClient, createSaslServer } from "./sasl/mod.ts";
import type { MechanismName } from "./sasl/mod.ts";
import { type ServerAction, type ServerReply, TspServerSession } from "./server_session.ts";
import type { CommandMessage, InfoMessage, TunnelMessage } from "./tunnel_message.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const CRLF = "\r\n";

type Line = readonly ["C" | "S", string | null];
type Request = Extract<ServerAction, { kind: "request" }>;

/**
 * Wire a client and a server session directly and record every send. The handler answers
 * requests synchronously.
 */
function converse(
  client: TspClientSession,
  server: TspServerSession,
  handler: (r: Request) => ServerReply,
): { transcript: ["C" | "S", string][]; client: ClientAction[]; server: ServerAction[] } {
  const transcript: ["C" | "S", string][] = [];
  const clientLog: ClientAction[] = [];
  const serverLog: ServerAction[] = [];
  const toServer: Uint8Array[] = [];
  const toClient: Uint8Array[] = [];
  const onClient = (actions: ClientAction[]) => {
    for (const a of actions) {
      clientLog.push(a);
      if (a.kind === "send") {
        transcript.push(["C", dec.decode(a.bytes)]);
        toServer.push(a.bytes);
      }
    }
  };
  const onServer = (actions: ServerAction[]) => {
    for (const a of actions) {
      serverLog.push(a);
      if (a.kind === "send") {
        transcript.push(["S", dec.decode(a.bytes)]);
        toClient.push(a.bytes);
      } else if (a.kind === "request") {
        onServer(server.handle({ kind: "reply", now: 0, id: a.id, reply: handler(a) }));
      }
    }
  };
  onClient(client.handle({ kind: "connected", now: 0 }));
  for (let i = 0; i < 100 && (toServer.length > 0 || toClient.length > 0); i++) {
    const c = toServer.shift();
    if (c) onServer(server.handle({ kind: "data", now: 0, bytes: c }));
    const s = toClient.shift();
    if (s) onClient(client.handle({ kind: "data", now: 0, bytes: s }));
  }
  return { transcript, client: clientLog, server: serverLog };
}

/** Compare a recorded transcript with the expected one (`null` = any SASL line). */
function assertTranscript(actual: ["C" | "S", string][], expected: readonly Line[]): void {
  assert.equal(actual.length, expected.length, JSON.stringify(actual, null, 1));
  for (let i = 0; i < expected.length; i++) {
    assert.equal(actual[i][0], expected[i][0], `line ${i} direction`);
    if (expected[i][1] !== null) assert.equal(actual[i][1], expected[i][1], `line ${i}`);
  }
}

function clientFor(
  mechanism: MechanismName,
  version: string,
  commands: CommandMessage[],
  extra: Partial<ConstructorParameters<typeof TspClientSession>[0]> = {},
): TspClientSession {
  return new TspClientSession({
    mechanism,
    versions: [version],
    commands,
    createSasl: (m) =>
      createSaslClient(m, {
        user: "tep2",
        pass: "tep-secret",
        digestUriHost: "[2001:db8:1::1]",
        cnonce: () => "1795679425",
      }),
    ...extra,
  });
}

function serverFor(
  mechanisms: MechanismName[],
  extra: Partial<ConstructorParameters<typeof TspServerSession>[0]> = {},
): TspServerSession {
  return new TspServerSession(
    {
      mechanisms,
      createSasl: (m) =>
        createSaslServer(m, {
          lookup: (u) => (u === "tep2" ? "tep-secret" : undefined),
          realm: "dstm.example",
          nonce: () => "1795679425",
        }),
      ...extra,
    },
    0,
  );
}

const CLIENT6 = "2001:db8:100::10";
const LEASE = "198.51.100.7";
const TEP1 = { ipv4: "192.0.2.1", ipv6: "2001:db8:ffff::1" };
const TEP2 = { ipv4: "192.0.2.2", ipv6: "2001:db8:ffff::2" };

// ---- protocol.md §2.10 ----------------------------------------------------------------------

const ALLOC_CREATE =
  '<tunnel action="create" type="v4v6"><client><address type="ipv6">2001:db8:100::10</address></client></tunnel>';
const ALLOC_INFO =
  '<tunnel action="info" type="v4v6" lifetime="1440"><server><address type="ipv4" length="32">192.0.2.1</address><address type="ipv6">2001:db8:ffff::1</address></server><client><address type="ipv4" length="32">198.51.100.7</address></client></tunnel>';

const ALLOCATION: readonly Line[] = [
  ["C", "VERSION=2.0.0\r\n"],
  ["S", "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=ANONYMOUS\r\n"],
  ["C", "AUTHENTICATE ANONYMOUS\r\n"],
  ["S", "200 Success\r\n"],
  ["C", "Content-length: 111\r\n" + ALLOC_CREATE + CRLF],
  ["S", "Content-length: 262\r\n200 Success\r\n" + ALLOC_INFO + CRLF],
  ["C", 'Content-length: 35\r\n<tunnel action="accept"></tunnel>\r\n'],
];

test("tsp golden: §2.10 allocation, byte for byte both ways", () => {
  const client = clientFor("ANONYMOUS", "2.0.0", [allocationRequest(CLIENT6)]);
  const server = serverFor(["DIGEST-MD5", "ANONYMOUS"]);
  const info = allocationInfo({
    ipv4: LEASE,
    tepIpv4: TEP1.ipv4,
    tepIpv6: TEP1.ipv6,
    lifetime: 1440,
  });
  const seen: Request[] = [];
  const r = converse(client, server, (req) => {
    seen.push(req);
    return { code: 200, message: info };
  });
  assertTranscript(r.transcript, ALLOCATION);
  assert.deepEqual(seen[0].command, allocationRequest(CLIENT6));
  assert.equal(seen[0].acceptStep, true);
  assert.ok(r.server.some((a) => a.kind === "accept" && a.accepted && a.id === seen[0].id));
  const resp = r.client.find((a) => a.kind === "response");
  assert.ok(resp && resp.kind === "response");
  assert.deepEqual(resp.message, info);
  assert.equal(resp.accepted, true);
});

const RENEW_XML =
  '<tunnel action="create" type="v4v6"><client><address type="ipv6">2001:db8:100::10</address><address type="ipv4" length="32">198.51.100.7</address></client></tunnel>';
const RELEASE_XML = RENEW_XML.replace('"create"', '"delete"');

for (
  const [name, message, xml] of [
    ["renewal", renewalRequest(CLIENT6, LEASE), RENEW_XML],
    ["release", releaseRequest(CLIENT6, LEASE), RELEASE_XML],
  ] as const
) {
  test(`tsp golden: §2.10 ${name} request, byte for byte both ways`, () => {
    const framed = "Content-length: 166\r\n" + xml + CRLF;
    assert.equal(dec.decode(encodeCommand(encodeTunnel(message))), framed);
    const client = clientFor("ANONYMOUS", "2.0.0", [message]);
    const server = serverFor(["DIGEST-MD5", "ANONYMOUS"]);
    const seen: Request[] = [];
    const r = converse(client, server, (req) => {
      seen.push(req);
      return name === "renewal"
        ? {
          code: 200,
          message: allocationInfo({
            ipv4: LEASE,
            tepIpv4: TEP1.ipv4,
            tepIpv6: TEP1.ipv6,
            lifetime: 1440,
          }),
        }
        : { code: 200 };
    });
    assert.equal(r.transcript[4][1], framed);
    assert.deepEqual(seen[0].command, message);
    assert.equal(seen[0].repaired, false);
  });
}

const PROV_CREATE =
  '<tunnel action="create" type="v4v6" lifetime="1440"><client><address type="ipv4" length="32">198.51.100.7</address><address type="ipv6">2001:db8:100::10</address></client></tunnel>';
const PROV_INFO =
  '<tunnel action="info" type="v4v6" lifetime="1440"><server><address type="ipv4" length="32">192.0.2.1</address><address type="ipv6">2001:db8:ffff::1</address></server><client><address type="ipv4" length="32">198.51.100.7</address><address type="ipv6">2001:db8:100::10</address></client></tunnel>';

test("tsp golden: §2.10 server -> TEP provisioning (2002 profile), byte for byte both ways", () => {
  const create = bindingPush("add", {
    ipv4: LEASE,
    clientIpv6: CLIENT6,
    lifetime: 1440,
  }) as CommandMessage;
  const info = allocationInfo({
    ipv4: LEASE,
    tepIpv4: TEP1.ipv4,
    tepIpv6: TEP1.ipv6,
    lifetime: 1440,
    clientIpv6: CLIENT6,
  });
  // Here the DSTM server is the TSP client and the TEP the TSP server.
  const client = clientFor("ANONYMOUS", "2.0.0", [create]);
  const server = serverFor(["ANONYMOUS"]);
  const seen: Request[] = [];
  const r = converse(client, server, (req) => {
    seen.push(req);
    return { code: 200, message: info };
  });
  assert.equal(r.transcript[4][1], "Content-length: 182\r\n" + PROV_CREATE + CRLF);
  assert.equal(r.transcript[5][1], "Content-length: 309\r\n200 Success\r\n" + PROV_INFO + CRLF);
  assert.deepEqual(seen[0].command, create);
  assert.equal(seen[0].command.lifetime, 1440, "a TEP reads lifetime on create as the mapping TTL");
});

// ---- protocol.md §3.1 as repaired (§3.2 item 9) --------------------------------------------

const LAYOUT = { indent: "   ", eol: CRLF };
const QUERY_REPAIRED = [
  '<tunnel action="query" type="v4v6">',
  "   <client>",
  '      <address type="ipv4">192.0.2.2</address>',
  '      <address type="ipv6">2001:db8:ffff::2</address>',
  "   </client>",
  "   <server>",
  '      <address type="ipv4">198.51.100.7</address>',
  "   </server>",
  "</tunnel>",
].join(CRLF) + CRLF;
const QUERY_INFO_31 = [
  "200 OK",
  '<tunnel action="info" type="v4v6" lifetime="1440">',
  "   <server>",
  '      <address type="ipv4" length="30">198.51.100.7</address>',
  '      <address type="ipv6">2001:db8:100::10</address>',
  "   </server>",
  "   <client>",
  '      <address type="ipv4" length="30">192.0.2.2</address>',
  '      <address type="ipv6">2001:db8:ffff::2</address>',
  "   </client>",
  "</tunnel>",
].join(CRLF) + CRLF;

/** The draft's reply as printed: addresses broken across lines; the missing final CR LF added. */
const QUERY_INFO_PRINTED = [
  "200 OK",
  '<tunnel action="info" type="v4v6" lifetime="1440">',
  "   <server>",
  '      <address type="ipv4" length="30">',
  "         198.51.100.7</address>",
  '      <address type="ipv6">2001:db8:100::10',
  "      </address>",
  "   </server>",
  "   <client>",
  '      <address type="ipv4" length="30">192.0.2.2',
  "      </address>",
  '      <address type="ipv6">2001:db8:ffff::2</address>',
  "   </client>",
  "</tunnel>",
].join(CRLF) + CRLF;

/** The draft's query as printed: `<server>` never closed. */
const QUERY_PRINTED = [
  '<tunnel action="query" type="v4v6">',
  "   <client>",
  '      <address type="ipv4">192.0.2.2</address>',
  '      <address type="ipv6">2001:db8:ffff::2</address>',
  "   </client>",
  "   <server>",
  '      <address type="ipv4">198.51.100.7',
  "      </address>",
  "   </tunnel>",
].join(CRLF) + CRLF;

const info31: InfoMessage = {
  action: "info",
  type: "v4v6",
  lifetime: 1440,
  server: {
    addresses: [{ type: "ipv4", value: LEASE, length: 30 }, { type: "ipv6", value: CLIENT6 }],
  },
  client: {
    addresses: [{ type: "ipv4", value: TEP2.ipv4, length: 30 }, { type: "ipv6", value: TEP2.ipv6 }],
  },
};

test("tsp golden: §3.1 (as repaired) VERSION=1.0 query exchange, byte for byte both ways", () => {
  assert.equal(enc.encode(QUERY_REPAIRED).length, 256, "§3.2 item 9");
  const client = clientFor("ANONYMOUS", "1.0", [queryRequest(LEASE, TEP2)], { xmlLayout: LAYOUT });
  const server = serverFor(["DIGEST-MD5", "ANONYMOUS"], { xmlLayout: LAYOUT });
  const seen: Request[] = [];
  const r = converse(client, server, (req) => {
    seen.push(req);
    return { code: 200, text: "OK", message: info31 };
  });
  assertTranscript(r.transcript, [
    ["C", "VERSION=1.0\r\n"],
    ["S", "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=ANONYMOUS\r\n"],
    ["C", "AUTHENTICATE ANONYMOUS\r\n"],
    ["S", "OK Authentication successful\r\n"],
    ["C", "Content-length: 256\r\n" + QUERY_REPAIRED],
    ["S", "Content-length: 358\r\n" + QUERY_INFO_31],
  ]);
  assert.deepEqual(seen[0].command, queryRequest(LEASE, TEP2));
  assert.equal(seen[0].acceptStep, false);
  const resp = r.client.find((a) => a.kind === "response");
  assert.ok(resp && resp.kind === "response");
  assert.equal(resp.status.code, 200);
  assert.equal(resp.status.text, "OK");
  assert.deepEqual(resp.message, info31);
  assert.equal(resp.accepted, undefined, "no accept after a query, none in 1.0");
});

test("tsp golden: §3.1 as printed (unclosed <server>, broken address lines) reads with one repair", () => {
  // Server reading the printed query.
  const server = serverFor(["ANONYMOUS"]);
  const actions = [
    ...server.handle({
      kind: "data",
      now: 0,
      bytes: enc.encode("VERSION=1.0\r\nAUTHENTICATE ANONYMOUS\r\n\0"),
    }),
    ...server.handle({
      kind: "data",
      now: 0,
      bytes: enc.encode(`Content-length: ${enc.encode(QUERY_PRINTED).length}\r\n${QUERY_PRINTED}`),
    }),
  ];
  const req = actions.find((a) => a.kind === "request");
  assert.ok(req && req.kind === "request");
  assert.equal(req.repaired, true);
  assert.deepEqual(req.command, queryRequest(LEASE, TEP2));
  // Client reading the printed reply.
  const client = clientFor("ANONYMOUS", "1.0", [queryRequest(LEASE, TEP2)]);
  client.handle({ kind: "connected", now: 0 });
  client.handle({
    kind: "data",
    now: 0,
    bytes: enc.encode("CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=ANONYMOUS\r\n"),
  });
  client.handle({ kind: "data", now: 0, bytes: enc.encode("OK Authentication successful\r\n") });
  const out = client.handle({
    kind: "data",
    now: 0,
    bytes: enc.encode(
      `Content-length: ${enc.encode(QUERY_INFO_PRINTED).length}\r\n${QUERY_INFO_PRINTED}`,
    ),
  });
  const resp = out.find((a) => a.kind === "response");
  assert.ok(resp && resp.kind === "response");
  assert.deepEqual(resp.message, info31);
  assert.equal(resp.repaired, false);
});

// ---- protocol.md §3.3 ------------------------------------------------------------------------

const QUERY_33 =
  '<tunnel action="query" type="v4v6"><client><address type="ipv4">192.0.2.2</address><address type="ipv6">2001:db8:ffff::2</address></client><server><address type="ipv4">198.51.100.7</address></server></tunnel>';
const INFO_33 =
  '<tunnel action="info" type="v4v6" lifetime="1312"><server><address type="ipv4" length="32">198.51.100.7</address><address type="ipv6">2001:db8:100::10</address></server><client><address type="ipv4" length="32">192.0.2.2</address><address type="ipv6">2001:db8:ffff::2</address></client></tunnel>';

test("tsp golden: §3.3 normalised query exchange with DIGEST-MD5, hit and miss, byte for byte", () => {
  const client = clientFor("DIGEST-MD5", "2.0.0", [
    queryRequest(LEASE, TEP2),
    queryRequest("198.51.100.8", TEP2),
  ]);
  const server = serverFor(["DIGEST-MD5"]);
  const r = converse(
    client,
    server,
    (req) =>
      req.command.action === "query" && req.command.server?.addresses[0].value === LEASE
        ? {
          code: 200,
          message: queryInfo({ ipv4: LEASE, clientIpv6: CLIENT6, lifetime: 1312, tep: TEP2 }),
        }
        : { code: 308 },
  );
  assertTranscript(r.transcript, [
    ["C", "VERSION=2.0.0\r\n"],
    ["S", "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5\r\n"],
    ["C", "AUTHENTICATE DIGEST-MD5\r\n"],
    ["S", null], // challenge
    ["C", null], // response
    ["S", null], // rspauth
    ["S", "200 Success\r\n"],
    ["C", "Content-length: 210\r\n" + QUERY_33 + CRLF],
    ["S", "Content-length: 309\r\n200 Success\r\n" + INFO_33 + CRLF],
    ["C", "Content-length: 210\r\n" + QUERY_33.replace("198.51.100.7", "198.51.100.8") + CRLF],
    ["S", "Content-length: 35\r\n308 Requested Address Unavailable\r\n"],
  ]);
  // The rspauth line and the 200 line are separate sends with a flush-pause between (§8.3).
  const i = r.server.findIndex((a) => a.kind === "flush-pause");
  assert.ok(i > 0 && r.server[i - 1].kind === "send" && r.server[i + 1].kind === "send");
  assert.equal(dec.decode((r.server[i + 1] as { bytes: Uint8Array }).bytes), "200 Success\r\n");
  assert.ok(r.server.some((a) => a.kind === "authenticated" && a.identity === "tep2"));
  const resp = r.client.filter((a) => a.kind === "response");
  assert.equal(resp.length, 2);
});

// ---- protocol.md §8.7: the de facto (gogoc) create request -----------------------------------

/** gogoc's request bytes, laid out as its `tspBuildCreateRequest` writes them. */
const GOGOC_CREATE = [
  '<tunnel action="create" type="v4v6" proxy="no">',
  " <client>",
  '  <address type="ipv6">2001:db8:100::10</address>',
  '  <keepalive interval="30">',
  '    <address type="ipv4">127.0.0.1</address>',
  "  </keepalive>",
  " </client>",
  "</tunnel>",
].join(CRLF) + CRLF;
const OURS_CREATE =
  '<tunnel action="create" type="v4v6" proxy="no"><client><address type="ipv6">2001:db8:100::10</address><keepalive interval="30"><address type="ipv4">127.0.0.1</address></keepalive></client></tunnel>';
const DE_FACTO = allocationRequest(CLIENT6, {
  proxy: "no",
  keepalive: { interval: 30, addresses: [{ type: "ipv4", value: "127.0.0.1" }] },
});

test("tsp golden: §8.7 de facto create request, read from gogoc's bytes and written one-line", () => {
  assert.equal(enc.encode(GOGOC_CREATE).length, 225);
  // Server reading gogoc's exact stream, NUL after AUTHENTICATE included (§8.2).
  const server = serverFor(["ANONYMOUS"]);
  const acts = server.handle({
    kind: "data",
    now: 0,
    bytes: enc.encode(
      "VERSION=2.0.2\r\nAUTHENTICATE ANONYMOUS\r\n\0Content-length: 225\r\n" + GOGOC_CREATE,
    ),
  });
  const req = acts.find((a) => a.kind === "request");
  assert.ok(req && req.kind === "request");
  assert.deepEqual(req.command, DE_FACTO);
  // Our client writing the same request.
  assert.equal(
    dec.decode(encodeCommand(encodeTunnel(DE_FACTO))),
    "Content-length: 199\r\n" + OURS_CREATE + CRLF,
  );
  const client = clientFor("ANONYMOUS", "2.0.2", [DE_FACTO]);
  const r = converse(client, serverFor(["ANONYMOUS"]), () => ({
    code: 200,
    message: allocationInfo({
      ipv4: LEASE,
      tepIpv4: TEP1.ipv4,
      tepIpv6: TEP1.ipv6,
      lifetime: 1440,
      clientIpv6: CLIENT6,
    }),
  }));
  assert.equal(r.transcript[4][1], "Content-length: 199\r\n" + OURS_CREATE + CRLF);
});

// ---- PUSH.md ---------------------------------------------------------------------------------

const PUSHES: readonly [string, TunnelMessage, string][] = [
  [
    "binding add (server -> TEP)",
    bindingPush("add", { ipv4: LEASE, clientIpv6: CLIENT6, lifetime: 1312 }),
    "Content-length: 195\r\n200 Success\r\n" +
    '<tunnel action="create" type="v4v6" lifetime="1312"><client><address type="ipv4" length="32">198.51.100.7</address><address type="ipv6">2001:db8:100::10</address></client></tunnel>\r\n',
  ],
  [
    "binding remove (server -> TEP)",
    bindingPush("remove", { ipv4: LEASE, clientIpv6: CLIENT6 }),
    "Content-length: 179\r\n200 Success\r\n" +
    '<tunnel action="delete" type="v4v6"><client><address type="ipv4" length="32">198.51.100.7</address><address type="ipv6">2001:db8:100::10</address></client></tunnel>\r\n',
  ],
  [
    "lease delete (server -> client)",
    leaseDeletePush({ ipv4: LEASE, clientIpv6: CLIENT6 }, TEP1),
    "Content-length: 295\r\n200 Success\r\n" +
    '<tunnel action="delete" type="v4v6"><server><address type="ipv4" length="32">192.0.2.1</address><address type="ipv6">2001:db8:ffff::1</address></server><client><address type="ipv4" length="32">198.51.100.7</address><address type="ipv6">2001:db8:100::10</address></client></tunnel>\r\n',
  ],
];

for (const [name, message, wire] of PUSHES) {
  test(`tsp golden: PUSH.md ${name}, byte for byte both ways`, () => {
    assert.equal(dec.decode(encodeReply(200, undefined, encodeTunnel(message))), wire);
    // Server session writes it on an open, idle session.
    const server = serverFor(["ANONYMOUS"]);
    server.handle({
      kind: "data",
      now: 0,
      bytes: enc.encode("VERSION=2.0.0\r\nAUTHENTICATE ANONYMOUS\r\n"),
    });
    const out = server.handle({ kind: "push", now: 0, message });
    assert.deepEqual(out.map((a) => (a.kind === "send" ? dec.decode(a.bytes) : a.kind)), [wire]);
    // Client session (persistent) reads it as a push.
    const client = clientFor("ANONYMOUS", "2.0.0", [], { persistent: true });
    client.handle({ kind: "connected", now: 0 });
    client.handle({
      kind: "data",
      now: 0,
      bytes: enc.encode("CAPABILITY TUNNEL=V4V6 AUTH=ANONYMOUS\r\n200 Success\r\n"),
    });
    const got = client.handle({ kind: "data", now: 0, bytes: enc.encode(wire) });
    assert.deepEqual(got, [{ kind: "push", message }]);
    assert.ok(readPush(message));
    // And a bare reader agrees on the framing.
    const items = new FrameReader({ mode: "reply" }).feed(enc.encode(wire));
    assert.equal(items.length, 1);
    assert.equal(items[0].kind, "frame");
    const body = parseReplyBody((items[0] as { body: Uint8Array }).body);
    assert.ok(body.ok);
    const p = parseTunnel(body.reply.xml!);
    assert.ok(p.ok);
    assert.deepEqual(p.message, message);
  });
}
