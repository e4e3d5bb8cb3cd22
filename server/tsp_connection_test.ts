import { test } from "node:test";
import assert from "node:assert/strict";
import { nullLogger } from "../lib/log/logger.ts";
import {
  allocationRequest,
  createSaslServer,
  encodeCommand,
  encodeTunnel,
  leaseDeletePush,
  type ServerReply,
} from "../lib/tsp/mod.ts";
import type { DstmService } from "./dstm_service.ts";
import { Counters } from "./counters.ts";
import { type ConnectionDeps, type Transport, TspConnection } from "./tsp_connection.ts";

const enc = new TextEncoder();
const PUSH = leaseDeletePush({ ipv4: "198.51.100.7", clientIpv6: "2001:db8:100::10" });
const CREATE = encodeCommand(encodeTunnel(allocationRequest("2001:db8:100::10")));

/** A connection over a fake TCP transport, with a service stub whose requests never answer. */
function setup(maxPendingPushes: number) {
  let now = 1000;
  const transport = {
    kind: "tcp" as const,
    peerAddress: "::1",
    peerPort: 4000,
    sent: [] as Uint8Array[],
    ended: false,
    send(b: Uint8Array) {
      this.sent.push(b);
    },
    pushRoom: () => 8,
    backlog: () => 0,
    end() {
      this.ended = true;
    },
  } satisfies Transport & { sent: Uint8Array[]; ended: boolean };
  const service = {
    sessionAuthenticated: () => "tep",
    sessionReady: () => {},
    sessionClosed: () => {},
    acceptOutcome: () => {},
    holdsLease: () => false,
    request: () => new Promise<ServerReply>(() => {}),
  } as unknown as DstmService;
  const counters = new Counters();
  const deps: ConnectionDeps = {
    service,
    sessionOptions: () => ({
      mechanisms: ["ANONYMOUS"],
      createSasl: (m) => createSaslServer(m),
      maxPendingPushes,
    }),
    counters,
    log: nullLogger,
    clock: () => now,
    timeouts: () => ({ idleMs: 1e9, frameMs: 500, maxWriteBacklog: 1 << 20 }),
  };
  const conn = new TspConnection(transport, deps);
  return { conn, transport, counters, advance: (ms: number) => (now += ms), now: () => now };
}

test("tsp connection: a push the session cannot hold returns false; the session stays open", () => {
  const t = setup(2);
  t.conn.data(enc.encode("VERSION=2.0.0\r\nAUTHENTICATE ANONYMOUS\r\n"));
  assert.equal(t.conn.role, "tep");
  assert.equal(t.conn.push(PUSH), true, "idle: sent at once");
  t.conn.data(CREATE); // the handler never answers: pushes are held
  assert.equal(t.conn.awaitingHandler, true);
  assert.equal(t.conn.push(PUSH), true);
  assert.equal(t.conn.push(PUSH), true);
  assert.equal(t.conn.push(PUSH), false, "overflow: the service resyncs the TEP");
  assert.equal(t.conn.closed, false);
  assert.deepEqual([...t.counters.samples("protocol_errors_total")], [], "not a protocol error");
});

test("tsp connection: a started frame that does not complete in frameTimeoutMs closes (TCP)", () => {
  const t = setup(64);
  t.conn.data(enc.encode("VERSION=2.0.0\r\nAUTHENTICATE ANONYMOUS\r\n"));
  t.conn.data(enc.encode("Content-length: 500\r\n<tunnel"));
  t.advance(300);
  t.conn.data(enc.encode(" action"));
  t.conn.tick(t.now());
  assert.equal(t.conn.closed, false, "300 ms in");
  t.advance(200);
  t.conn.tick(t.now());
  assert.equal(t.conn.closed, true, "500 ms after the frame began, trickling or not");
  assert.equal(t.transport.ended, true);
  assert.equal(t.counters.get("timeouts_total", ["frame"]), 1);
});
