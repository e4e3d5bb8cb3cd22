import assert from "node:assert/strict";
import { test } from "node:test";
import { createSaslClient, createSaslServer } from "./factory.ts";
import { MECHANISM_NAMES, parseMechanismName, type SaslServer } from "./mechanism.ts";
import { exchange, GOGOC, unb64 } from "./_testing.ts";
import { encodeBase64 } from "./_base64.ts";
import * as mod from "./mod.ts";

const users: Record<string, string> = { user1: "secret", "m\u00fcller": "gr\u00fc\u00dfe\u20ac" };
const lookup = (u: string) => Object.hasOwn(users, u) ? users[u] : undefined;
let counter = 0;
const serverOpts = { lookup, realm: GOGOC.realm, nonce: () => `nonce${++counter}` };
const clientOpts = (user: string, pass: string) => ({
  user,
  pass,
  digestUriHost: "broker.example",
  cnonce: () => `cnonce${++counter}`,
});

test("sasl factory: mechanism names from the wire", () => {
  assert.equal(parseMechanismName("DIGEST-MD5"), "DIGEST-MD5");
  assert.equal(parseMechanismName("digest-md5"), "DIGEST-MD5");
  assert.equal(parseMechanismName("Plain"), "PLAIN");
  assert.equal(parseMechanismName("ANONYMOUS"), "ANONYMOUS");
  for (const bad of ["", "PASSDSS-3DES-1", "CRAM-MD5", " PLAIN", "PLAIN\0", "x".repeat(100)]) {
    assert.equal(parseMechanismName(bad), undefined, bad);
  }
  assert.equal(parseMechanismName(undefined as never), undefined);
  assert.deepEqual(MECHANISM_NAMES, ["DIGEST-MD5", "PLAIN", "ANONYMOUS"]);
});

test("sasl factory: builds each mechanism and refuses unknown names or missing options", () => {
  for (const name of MECHANISM_NAMES) {
    assert.equal(createSaslServer(name, serverOpts).mechanism, name);
    assert.equal(createSaslClient(name, clientOpts("user1", "secret")).mechanism, name);
  }
  assert.throws(() => createSaslServer("CRAM-MD5" as never, serverOpts), TypeError);
  assert.throws(() => createSaslClient("CRAM-MD5" as never, {}), TypeError);
  assert.throws(() => createSaslServer("PLAIN"), TypeError);
  assert.throws(() => createSaslServer("DIGEST-MD5", { lookup }), TypeError);
  assert.throws(() => createSaslClient("PLAIN"), TypeError);
  assert.throws(() => createSaslClient("DIGEST-MD5", { user: "u", pass: "p" }), TypeError);
  assert.equal(createSaslServer("ANONYMOUS").mechanism, "ANONYMOUS");
  assert.equal(createSaslClient("ANONYMOUS").mechanism, "ANONYMOUS");
});

test("sasl factory: mod.ts exports the public API", () => {
  for (
    const name of [
      "anonymousServer",
      "anonymousClient",
      "plainServer",
      "plainClient",
      "digestMd5Server",
      "digestMd5Client",
      "digestMd5Response",
      "digestMd5Rspauth",
      "createSaslServer",
      "createSaslClient",
      "parseMechanismName",
    ]
  ) assert.equal(typeof (mod as Record<string, unknown>)[name], "function", name);
});

test("sasl exchange: every mechanism succeeds with good credentials", () => {
  for (const name of MECHANISM_NAMES) {
    for (const [user, pass] of [["user1", "secret"], ["m\u00fcller", "gr\u00fc\u00dfe\u20ac"]]) {
      const o = exchange(
        createSaslServer(name, serverOpts),
        createSaslClient(name, clientOpts(user, pass)),
      );
      const identity = name === "ANONYMOUS" ? "anonymous" : user;
      assert.deepEqual(o, { end: "success", identity, verified: name === "DIGEST-MD5" }, name);
    }
  }
});

test("sasl exchange: bad password and unknown user fail at the server", () => {
  for (const name of ["PLAIN", "DIGEST-MD5"] as const) {
    for (const [user, pass] of [["user1", "Secret"], ["user1", "secret "], ["nobody", "secret"]]) {
      const o = exchange(
        createSaslServer(name, serverOpts),
        createSaslClient(name, clientOpts(user, pass)),
      );
      assert.equal(o.end, "server-failure", `${name} ${user}/${pass}`);
    }
  }
});

test("sasl exchange: DIGEST-MD5 client aborts on a tampered rspauth", () => {
  const tamper = (final: string) => {
    const hexes = unb64(final).slice("rspauth=".length);
    const flipped = (hexes[0] === "0" ? "1" : "0") + hexes.slice(1);
    return encodeBase64(new TextEncoder().encode("rspauth=" + flipped));
  };
  const o = exchange(
    createSaslServer("DIGEST-MD5", serverOpts),
    createSaslClient("DIGEST-MD5", clientOpts("user1", "secret")),
    tamper,
  );
  assert.equal(o.end, "client-failure");
  if (o.end === "client-failure") assert.match(o.reason, /rspauth mismatch/);
});

test("sasl exchange: DIGEST-MD5 client refuses success without rspauth", () => {
  const real = createSaslServer("DIGEST-MD5", serverOpts);
  const noProof: SaslServer = {
    mechanism: "DIGEST-MD5",
    start: () => real.start(),
    step: (line) => {
      const s = real.step(line);
      return s.kind === "success" ? { kind: "success", identity: s.identity } : s;
    },
  };
  const o = exchange(noProof, createSaslClient("DIGEST-MD5", clientOpts("user1", "secret")));
  assert.deepEqual(o, { end: "client-refused-success" });
});

test("sasl exchange: DIGEST-MD5 server holding another password refuses the response", () => {
  // The server holds another password for user1: the client's response cannot match it.
  const wrong = createSaslServer("DIGEST-MD5", { ...serverOpts, lookup: () => "other" });
  const o = exchange(wrong, createSaslClient("DIGEST-MD5", clientOpts("user1", "secret")));
  assert.equal(o.end, "server-failure");
});

test("sasl exchange: gogoc legacy A1 (§8.3 credentials) needs acceptLegacyA1", () => {
  const client = () =>
    createSaslClient("DIGEST-MD5", { ...clientOpts(GOGOC.user, GOGOC.pass), legacyA1: true });
  assert.equal(
    exchange(createSaslServer("DIGEST-MD5", serverOpts), client()).end,
    "server-failure",
  );
  const o = exchange(
    createSaslServer("DIGEST-MD5", { ...serverOpts, acceptLegacyA1: true }),
    client(),
  );
  assert.deepEqual(o, { end: "success", identity: "user1", verified: true });
});
