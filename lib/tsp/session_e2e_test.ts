import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { type ClientAction, TspClientSession } from "./client_session.ts";
import {
  allocationRequest,
  bindingPush,
  queryRequest,
  readAllocationInfo,
  readPush,
  readQueryInfo,
  releaseRequest,
  renewalRequest,
} from "./dstm_profile.ts";
import { TspServerSession } from "./server_session.ts";
import type { MechanismName } from "./sasl/mod.ts";
import { FakeDstm, TcpWire, testSaslClient, testServerOptions, UdpWire } from "./_wire.ts";
import { encodeTunnel } from "./encode_tunnel.ts";
import { encodeCommand } from "./frame_writer.ts";
import { encodeUdpDatagram, parseUdpDatagram } from "./udp_header.ts";
import { UdpReplyCache } from "./udp_reply_cache.ts";
import { UdpServerLink } from "./udp_server_link.ts";
import type { CommandMessage } from "./tunnel_message.ts";

const CLIENT6 = "2001:db8:100::10";
const VERSIONS = ["1.0", "2.0.0", "2.0.1", "2.0.2"] as const;
const MECHS: MechanismName[] = ["ANONYMOUS", "PLAIN", "DIGEST-MD5"];

type Kind = "tcp" | "udp";

function responses(actions: ClientAction[]) {
  return actions.filter((a) => a.kind === "response") as Extract<
    ClientAction,
    { kind: "response" }
  >[];
}

/** Run one client session (one-shot or persistent) against a fresh server per connection. */
function session(
  kind: Kind,
  dstm: FakeDstm,
  seed: number,
  o: {
    version: string;
    mech: MechanismName;
    user?: string;
    commands?: CommandMessage[];
    persistent?: boolean;
    serverVersions?: string[];
  },
): TcpWire | UdpWire {
  const client = new TspClientSession({
    mechanism: o.mech,
    createSasl: testSaslClient(o.user),
    versions: o.version === "fallback" ? undefined : [o.version],
    commands: o.commands,
    persistent: o.persistent,
    // Over UDP the link retransmits for up to ~90 s; the session must wait longer than that.
    responseTimeoutMs: kind === "udp" ? 180000 : undefined,
  });
  const wireOptions = {
    newServer: (now: number) =>
      new TspServerSession(
        testServerOptions(o.serverVersions ? { versions: o.serverVersions } : {}),
        now,
      ),
    dstm,
    rng: new Prng(seed),
    handlerDelayMs: seed % 2 === 0 ? undefined : 5,
  };
  const wire = kind === "tcp"
    ? new TcpWire(client, wireOptions)
    : new UdpWire(client, { ...wireOptions, loss: 0.2, duplicate: 0.2 });
  return wire.start();
}

function checkOk(wire: TcpWire | UdpWire, what: string): void {
  const failed = wire.log.client.find((a) => a.kind === "failed");
  assert.equal(failed, undefined, `${what}: ${JSON.stringify(failed)}`);
}

let seed = 1;
for (const kind of ["tcp", "udp"] as const) {
  for (const version of VERSIONS) {
    for (const mech of MECHS) {
      test(`tsp: ${kind} ${version} ${mech} allocation, renewal, query, release`, () => {
        const dstm = new FakeDstm();
        const accept = version !== "1.0";
        let disturbed = 0;
        const note = (x: TcpWire | UdpWire) => {
          if (x instanceof UdpWire) disturbed += x.stats.lost + x.stats.duplicated;
        };

        // Allocation.
        let w = session(kind, dstm, seed++, {
          version,
          mech,
          commands: [allocationRequest(CLIENT6)],
        });
        w.run();
        note(w);
        checkOk(w, "allocation");
        let r = responses(w.log.client);
        assert.equal(r.length, 1);
        assert.equal(r[0].status.code, 200);
        const lease = readAllocationInfo(r[0].message!);
        assert.deepEqual(lease, {
          ipv4: "198.51.100.7",
          tepIpv4: "192.0.2.1",
          tepIpv6: "2001:db8:ffff::1",
          lifetime: 1440,
        });
        assert.equal(r[0].accepted, accept ? true : undefined);
        assert.equal(dstm.allocations, 1, "exactly one allocation despite loss and duplicates");
        assert.deepEqual(dstm.outcomes.map((o) => o.outcome), accept ? ["accept"] : []);
        assert.equal(dstm.leases.get("198.51.100.7")?.committed, true);
        assert.ok(w.log.client.some((a) => a.kind === "done"));
        if (w instanceof UdpWire) assert.ok(w.link.idle, "accept datagram acknowledged");

        // Renewal.
        w = session(kind, dstm, seed++, {
          version,
          mech,
          commands: [renewalRequest(CLIENT6, lease!.ipv4)],
        });
        w.run();
        note(w);
        checkOk(w, "renewal");
        r = responses(w.log.client);
        assert.equal(r.length, 1);
        assert.equal(r[0].status.code, 200);
        assert.equal(readAllocationInfo(r[0].message!)?.ipv4, "198.51.100.7");
        assert.equal(dstm.allocations, 1, "renewal allocates nothing");

        // Query from the TEP on a persistent session: hit, miss, then a pushed binding.
        w = session(kind, dstm, seed++, { version, mech, user: "tep2", persistent: true });
        w.run();
        checkOk(w, "query login");
        assert.ok(w.log.client.some((a) => a.kind === "ready"));
        w.command(queryRequest("198.51.100.7", { ipv4: "192.0.2.2", ipv6: "2001:db8:ffff::2" }));
        w.command(queryRequest("198.51.100.99"));
        w.run();
        r = responses(w.log.client);
        assert.equal(r.length, 2);
        assert.equal(r[0].status.code, 200);
        assert.deepEqual(readQueryInfo(r[0].message!), {
          ipv4: "198.51.100.7",
          clientIpv6: CLIENT6,
          lifetime: 1312,
        });
        assert.equal(r[0].accepted, undefined, "no accept step after a query");
        assert.equal(r[1].status.code, 308);
        assert.equal(r[1].message, undefined);
        w.push(
          bindingPush("add", {
            ipv4: "198.51.100.8",
            clientIpv6: "2001:db8:100::11",
            lifetime: 30,
          }),
        );
        if (kind === "udp") {
          // Over UDP a push rides on the reply to the next client datagram: poll once.
          w.command(queryRequest("198.51.100.7"));
        }
        w.run();
        const pushes = w.log.client.flatMap((a) => (a.kind === "push" ? [a.message] : []));
        assert.equal(pushes.length, 1);
        assert.deepEqual(readPush(pushes[0]), {
          kind: "add",
          ipv4: "198.51.100.8",
          clientIpv6: "2001:db8:100::11",
          lifetime: 30,
        });
        w.close();
        w.run();
        note(w);
        assert.equal(w.client.phase, "closed");

        // Release.
        w = session(kind, dstm, seed++, {
          version,
          mech,
          commands: [releaseRequest(CLIENT6, "198.51.100.7")],
        });
        w.run();
        checkOk(w, "release");
        r = responses(w.log.client);
        assert.equal(r.length, 1);
        assert.equal(r[0].status.code, 200);
        assert.equal(dstm.leases.size, 0);
        assert.equal(dstm.allocations, 1);
        note(w);
        if (kind === "udp") assert.ok(disturbed > 0, "the network lost or duplicated datagrams");
      });
    }
  }
}

for (const kind of ["tcp", "udp"] as const) {
  test(`tsp: ${kind} version fallback 2.0.2 -> 2.0.1 -> 2.0.0 -> 1.0 on 302`, () => {
    const dstm = new FakeDstm();
    const w = session(kind, dstm, 77, {
      version: "fallback",
      mech: "DIGEST-MD5",
      commands: [allocationRequest(CLIENT6)],
      serverVersions: ["1.0"],
    });
    w.run();
    checkOk(w, "fallback");
    const reconnects = w.log.client.filter((a) => a.kind === "reconnect").map((a) =>
      (a as { version: string }).version
    );
    assert.deepEqual(reconnects, ["2.0.1", "2.0.0", "1.0"]);
    assert.equal(w.log.sessions, 4);
    const r = responses(w.log.client);
    assert.equal(r.length, 1);
    assert.equal(r[0].accepted, undefined, "1.0: no accept step");
    assert.equal(dstm.leases.get("198.51.100.7")?.committed, true);
  });
}

test("tsp: udp survives heavy loss and duplication without a second allocation", () => {
  let completed = 0;
  for (let s = 0; s < 20; s++) {
    const dstm = new FakeDstm();
    const client = new TspClientSession({
      mechanism: "DIGEST-MD5",
      createSasl: testSaslClient(),
      versions: ["2.0.0"],
      commands: [allocationRequest(CLIENT6)],
      responseTimeoutMs: 600000,
    });
    const w = new UdpWire(client, {
      newServer: (now) => new TspServerSession(testServerOptions(), now),
      dstm,
      rng: new Prng(1000 + s),
      loss: 0.35,
      duplicate: 0.5,
      handlerDelayMs: s % 2 ? 3 : undefined,
    }).start();
    w.run();
    const failed = w.log.client.find((a) => a.kind === "failed");
    if (failed) {
      // Only acceptable failure: the link gave up after its bounded tries.
      assert.equal((failed as { stage: string }).stage, "closed");
      continue;
    }
    assert.equal(responses(w.log.client).length, 1);
    assert.equal(dstm.allocations, 1);
    assert.ok(w.stats.duplicated > 0 || w.stats.lost > 0);
    completed++;
  }
  assert.ok(completed >= 15, `${completed} of 20 sessions completed`);
});

test("tsp: udp server answers gogoc's datagrams one for one, empty where nothing to say (§8.4)", () => {
  const dstm = new FakeDstm();
  const cache = new UdpReplyCache();
  const link = new UdpServerLink({ peer: "[2001:db8:100::10]:3653", cache });
  const session = new TspServerSession(testServerOptions(), 0);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let seq = 0x0f0;
  const exchange = (payload: string, sequence = seq++): string => {
    const datagram = encodeUdpDatagram({ sequence, timestamp: 0x5eed }, enc.encode(payload));
    const r = link.receive(datagram, 0);
    let reply: Uint8Array | null;
    if (r.kind === "resend") reply = r.bytes;
    else {
      assert.equal(r.kind, "deliver");
      for (
        const a of session.handle({
          kind: "data",
          now: 0,
          bytes: (r as { payload: Uint8Array }).payload,
        })
      ) {
        if (a.kind === "send") link.enqueue(a.bytes);
        if (a.kind === "request") {
          for (
            const b of session.handle({ kind: "reply", now: 0, id: a.id, reply: dstm.handle(a) })
          ) {
            if (b.kind === "send") link.enqueue(b.bytes);
          }
        }
        if (a.kind === "accept") dstm.outcome(a);
      }
      reply = link.flush(0, session.awaitingHandler);
    }
    assert.ok(reply);
    const p = parseUdpDatagram(reply);
    assert.ok(p.ok);
    assert.deepEqual(p.header, { sequence, timestamp: 0x5eed }, "both fields echoed");
    return dec.decode(p.payload);
  };
  assert.equal(
    exchange("VERSION=2.0.2\r\n"),
    "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=PLAIN AUTH=ANONYMOUS\r\n",
  );
  assert.equal(exchange("AUTHENTICATE PLAIN\r\n\0"), "", "empty reply after AUTHENTICATE PLAIN");
  assert.equal(exchange("\0user1\0secret\r\n"), "200 Success\r\n");
  const create = new TextDecoder().decode(encodeCommand(encodeTunnel(allocationRequest(CLIENT6))));
  const createSeq = seq;
  const info = exchange(create);
  assert.match(info, /^Content-length: \d+\r\n200 Success\r\n<tunnel action="info"/);
  assert.equal(
    exchange(create, createSeq),
    info,
    "retransmitted create: same bytes, no new allocation",
  );
  assert.equal(dstm.allocations, 1);
  assert.equal(
    exchange('Content-length: 35\r\n<tunnel action="accept"></tunnel>\r\n'),
    "",
    "empty reply after accept",
  );
  assert.deepEqual(dstm.outcomes.map((o) => o.outcome), ["accept"]);
});
