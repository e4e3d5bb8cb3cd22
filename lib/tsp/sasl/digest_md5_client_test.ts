import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeBase64 } from "./_base64.ts";
import { digestMd5Octets, digestMd5Response, digestMd5Rspauth } from "./digest_md5_hash.ts";
import { digestMd5Client, type DigestMd5ClientOptions } from "./digest_md5_client.ts";
import type { SaslClient } from "./mechanism.ts";
import { b64Line, GOGOC, RFC2831, unb64 } from "./_testing.ts";

function client(extra: Partial<DigestMd5ClientOptions> = {}): SaslClient {
  const c = digestMd5Client({
    user: GOGOC.user,
    pass: GOGOC.pass,
    digestUriHost: GOGOC.host,
    cnonce: () => GOGOC.cnonce,
    ...extra,
  });
  assert.deepEqual(c.start(), [{ kind: "await" }]);
  return c;
}

/** The decoded response the client sends for a challenge text, or the failure reason. */
function respond(challenge: string, extra: Partial<DigestMd5ClientOptions> = {}): string {
  const step = client(extra).step(b64Line(challenge));
  if (step.kind === "send") return unb64(step.line);
  assert.equal(step.kind, "failure");
  return step.kind === "failure" ? `FAILURE: ${step.reason}` : "";
}

test("sasl digest-md5 client: answers the §8.3 challenge byte for byte like gogoc", () => {
  assert.equal(respond(GOGOC.challenge), GOGOC.clientResponse);
});

test("sasl digest-md5 client: RFC 2831 §4 example with servType imap", () => {
  const c = client({
    user: RFC2831.user,
    pass: RFC2831.pass,
    digestUriHost: "elwood.innosoft.com",
    cnonce: () => RFC2831.cnonce,
    servType: "imap",
  });
  const step = c.step(b64Line(
    'realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,' +
      "charset=utf-8",
  ));
  assert.equal(step.kind, "send");
  if (step.kind !== "send") return;
  assert.equal(
    unb64(step.line),
    'charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",' +
      'nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",' +
      "response=d388dad90d4bbd760a152321f2143af7,qop=auth",
  );
  assert.deepEqual(c.step(b64Line("rspauth=" + RFC2831.rspauth)), { kind: "verified" });
});

test("sasl digest-md5 client: verifies rspauth before success is allowed", () => {
  const c = client();
  assert.equal(c.successAllowed, false);
  assert.equal(c.step(b64Line(GOGOC.challenge)).kind, "send");
  assert.equal(c.successAllowed, false);
  assert.deepEqual(c.step(new Uint8Array(0)), { kind: "await" });
  assert.deepEqual(c.step(b64Line("rspauth=" + GOGOC.rspauth)), { kind: "verified" });
  assert.equal(c.successAllowed, true);
  assert.equal(c.step(b64Line("rspauth=" + GOGOC.rspauth)).kind, "failure");
});

test("sasl digest-md5 client: rspauth in upper case or with blanks is still verified", () => {
  const c = client();
  c.step(b64Line(GOGOC.challenge));
  assert.deepEqual(c.step(b64Line(` rspauth = "${GOGOC.rspauth.toUpperCase()}" `)), {
    kind: "verified",
  });
});

test("sasl digest-md5 client: tampered or malformed rspauth fails mutual authentication", () => {
  const bad = [
    b64Line("rspauth=" + GOGOC.rspauth.slice(0, 31) + "0"),
    b64Line("rspauth=" + GOGOC.response),
    b64Line("rspauth=" + GOGOC.rspauth.slice(1)),
    b64Line("rspauth=" + GOGOC.rspauth + ",rspauth=" + GOGOC.rspauth),
    b64Line("nothing=here"),
    b64Line("rspauth"),
    new TextEncoder().encode("rspauth=" + GOGOC.rspauth), // not base64
    new TextEncoder().encode("!!!!"),
  ];
  for (const line of bad) {
    const c = client();
    c.step(b64Line(GOGOC.challenge));
    const step = c.step(line);
    assert.equal(step.kind, "failure");
    assert.equal(c.successAllowed, false);
    assert.equal(c.step(b64Line("rspauth=" + GOGOC.rspauth)).kind, "failure");
  }
});

test("sasl digest-md5 client: challenge variants (realms, qop list, charset spelling)", () => {
  const tail = `nc=00000001,cnonce="1795679425",digest-uri="tsp/[::1]"`;
  const resp = (realm: string) =>
    digestMd5Response({
      username: "user1",
      realm,
      password: "secret",
      nonce: "n",
      cnonce: "1795679425",
      digestUri: "tsp/[::1]",
    });
  // Several realms: the first is used.
  assert.equal(
    respond('realm="a",realm="b",nonce="n",qop="auth",algorithm=md5-sess,charset=utf-8'),
    `charset=utf-8,username="user1",realm="a",nonce="n",${tail},response=${resp("a")},qop=auth`,
  );
  // No realm: none sent, the empty realm hashed; no charset: none sent.
  assert.equal(
    respond('nonce="n",qop="auth-int, auth",algorithm=md5-sess'),
    `username="user1",nonce="n",${tail},response=${resp("")},qop=auth`,
  );
  // The draft's "utf8" spelling is echoed; qop and algorithm may be absent.
  assert.equal(
    respond(' nonce = "n" , realm = "a" , charset = utf8 '),
    `charset=utf8,username="user1",realm="a",nonce="n",${tail},response=${resp("a")},qop=auth`,
  );
});

test("sasl digest-md5 client: without charset, credentials go as ISO 8859-1 or not at all", () => {
  const c = client({ user: "jos\u00e9", pass: "p\u00e4ss" });
  const step = c.step(b64Line('realm="r",nonce="n"'));
  assert.equal(step.kind, "send");
  if (step.kind !== "send") return;
  const text = unb64(step.line);
  assert.ok(text.startsWith('username="jos\xe9",realm="r"'), text); // one octet 0xe9
  const want = digestMd5Octets({
    secret: "jos\xe9:r:p\xe4ss",
    nonce: "n",
    cnonce: GOGOC.cnonce,
    nc: "00000001",
    digestUri: "tsp/[::1]",
  }).response;
  assert.ok(text.includes(`response=${want},`), text);
  const r = respond('realm="r",nonce="n"', { user: "\u4e2d" });
  assert.ok(r.startsWith("FAILURE") && r.includes("8859-1"), r);
});

test("sasl digest-md5 client: escapes quotes in values and sends authzid", () => {
  const text = respond(GOGOC.challenge, { user: 'a"b\\c', authzid: 'a"b\\c' });
  assert.ok(text.includes('username="a\\"b\\\\c"'), text);
  assert.ok(text.endsWith(',qop=auth,authzid="a\\"b\\\\c"'), text);
  const want = digestMd5Response({
    username: 'a"b\\c',
    realm: GOGOC.realm,
    password: GOGOC.pass,
    nonce: GOGOC.nonce,
    cnonce: GOGOC.cnonce,
    digestUri: "tsp/[::1]",
    authzid: 'a"b\\c',
  });
  assert.ok(text.includes(`response=${want},`));
});

test("sasl digest-md5 client: refuses challenges it cannot answer", () => {
  const cases: [string, string][] = [
    ['realm="r",qop="auth-int,auth-conf",nonce="n"', "qop"],
    ['realm="r",nonce="n",algorithm=md5', "algorithm"],
    ['realm="r",nonce="n",charset=iso-8859-1', "charset"],
    ['realm="r",qop="auth"', "nonce"],
    ['realm="r",nonce=""', "nonce"],
    ['realm="r",nonce="n",nonce="m"', "syntax"],
    ['realm="r,nonce="n"', "syntax"],
  ];
  for (const [challenge, why] of cases) {
    const r = respond(challenge);
    assert.ok(r.startsWith("FAILURE") && r.includes(why), `${challenge}: ${r}`);
  }
  for (const line of [new TextEncoder().encode("@@@@"), new Uint8Array([0x41])]) {
    assert.equal(client().step(line).kind, "failure");
  }
  assert.equal(client().step(b64Line("x".repeat(5000))).kind, "failure");
});

test("sasl digest-md5 client: empty lines are skipped, states are enforced", () => {
  const c = digestMd5Client({
    user: "u",
    pass: "p",
    digestUriHost: "h",
    cnonce: () => "c",
  });
  assert.equal(c.mechanism, "DIGEST-MD5");
  assert.equal(c.step(b64Line(GOGOC.challenge)).kind, "failure"); // before start
  const d = client();
  assert.deepEqual(d.step(new Uint8Array(0)), { kind: "await" });
  assert.equal(d.start()[0].kind, "failure");
  assert.equal(d.step(b64Line(GOGOC.challenge)).kind, "failure"); // failed for good
});

test("sasl digest-md5 client: legacy A1 option (gogoc at TSP <= 2.0.0) on the §8.3 vector", () => {
  // md5("user1:dstm.example:secret") = ec53c7f390 00 7905…: a zero octet, so gogoc's Bug1455
  // path (taken only after VERSION=2.0.0 or older) hashes just the five octets before it.
  const p = {
    username: GOGOC.user,
    realm: GOGOC.realm,
    password: GOGOC.pass,
    nonce: GOGOC.nonce,
    cnonce: GOGOC.cnonce,
    digestUri: "tsp/[::1]",
    legacyA1: true,
  };
  const legacy = digestMd5Response(p);
  assert.notEqual(legacy, GOGOC.response);
  assert.equal(
    respond(GOGOC.challenge, { legacyA1: true }),
    GOGOC.clientResponse.replace(GOGOC.response, legacy),
  );
  const c = client({ legacyA1: true });
  c.step(b64Line(GOGOC.challenge));
  assert.equal(c.step(b64Line("rspauth=" + GOGOC.rspauth)).kind, "failure");
  const d = client({ legacyA1: true });
  d.step(b64Line(GOGOC.challenge));
  assert.deepEqual(d.step(b64Line("rspauth=" + digestMd5Rspauth(p))), { kind: "verified" });
});

test("sasl digest-md5 client: bad options throw TypeError, empty cnonce RangeError", () => {
  const base = { user: "u", pass: "p", digestUriHost: "h", cnonce: () => "c" };
  assert.throws(() => digestMd5Client({ ...base, user: "" }), TypeError);
  assert.throws(() => digestMd5Client({ ...base, pass: undefined as never }), TypeError);
  assert.throws(() => digestMd5Client({ ...base, digestUriHost: "" }), TypeError);
  assert.throws(() => digestMd5Client({ ...base, cnonce: "c" as never }), TypeError);
  assert.throws(() => digestMd5Client({ ...base, authzid: 5 as never }), TypeError);
  assert.throws(() => digestMd5Client({ ...base, servType: "" }), TypeError);
  assert.throws(() => digestMd5Client(null as never), TypeError);
  const c = digestMd5Client({ ...base, cnonce: () => "" });
  c.start();
  assert.throws(() => c.step(b64Line(GOGOC.challenge)), RangeError);
  assert.equal(encodeBase64(new Uint8Array(0)), "");
});
