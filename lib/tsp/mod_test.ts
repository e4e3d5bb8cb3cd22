import { test } from "node:test";
import assert from "node:assert/strict";
import * as tsp from "./mod.ts";

test("tsp mod: re-exports the public API, SASL included", () => {
  for (
    const name of [
      "TspClientSession",
      "TspServerSession",
      "FrameReader",
      "parseTunnel",
      "encodeTunnel",
      "encodeCommand",
      "encodeReply",
      "STATUS_CODES",
      "Status",
      "parseStatusLine",
      "parseVersionLine",
      "parseCapabilityLine",
      "parseAuthenticateLine",
      "parseUdpDatagram",
      "writeUdpHeader",
      "UdpClientLink",
      "UdpServerLink",
      "UdpReplyCache",
      "allocationRequest",
      "queryRequest",
      "bindingPush",
      "leaseDeletePush",
      "repairXml",
      "createSaslServer",
      "createSaslClient",
      "MECHANISM_NAMES",
    ]
  ) {
    assert.ok(name in tsp, name);
  }
});

test("tsp mod: the SASL factories plug into the session machines", () => {
  const server = new tsp.TspServerSession(
    { mechanisms: ["ANONYMOUS"], createSasl: (m) => tsp.createSaslServer(m) },
    0,
  );
  const client = new tsp.TspClientSession({
    mechanism: "ANONYMOUS",
    createSasl: (m) => tsp.createSaslClient(m),
    versions: ["2.0.0"],
  });
  const toServer = client.handle({ kind: "connected", now: 0 });
  const caps = server.handle({
    kind: "data",
    now: 0,
    bytes: (toServer[0] as { bytes: Uint8Array }).bytes,
  });
  const auth = client.handle({
    kind: "data",
    now: 0,
    bytes: (caps[0] as { bytes: Uint8Array }).bytes,
  });
  const ok = server.handle({
    kind: "data",
    now: 0,
    bytes: (auth[0] as { bytes: Uint8Array }).bytes,
  });
  const end = client.handle({
    kind: "data",
    now: 0,
    bytes: (ok[0] as { bytes: Uint8Array }).bytes,
  });
  assert.deepEqual(end.map((a) => a.kind), ["ready", "done", "close"]);
});
