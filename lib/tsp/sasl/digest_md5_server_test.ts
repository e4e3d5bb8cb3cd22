import assert from "node:assert/strict";
import { test } from "node:test";
import { bytesFromBin, md5, utf8ToBin } from "./_binary.ts";
import { encodeBase64 } from "./_base64.ts";
import { digestMd5Octets, digestMd5Response, digestMd5Rspauth } from "./digest_md5_hash.ts";
import { digestMd5Server, type DigestMd5ServerOptions } from "./digest_md5_server.ts";
import type { SaslServerStep } from "./mechanism.ts";
import { b64Line, GOGOC, line, RFC2831, unb64 } from "./_testing.ts";

const users: Record<string, string> = {
  user1: "secret",
  "jos\u00e9": "p\u00e4ss",
  "\u4e2d\u6587": "\u5bc6\u7801",
  'we"ird\\': "pw",
};
const lookup = (u: string) => Object.hasOwn(users, u) ? users[u] : undefined;

function server(extra: Partial<DigestMd5ServerOptions> = {}) {
  return digestMd5Server({ realm: GOGOC.realm, lookup, nonce: () => GOGOC.nonce, ...extra });
}

/** Start a fresh gogoc-vector server and feed it one decoded response text. */
function answer(text: string, extra: Partial<DigestMd5ServerOptions> = {}): SaslServerStep {
  const s = server(extra);
  assert.equal(s.start().kind, "challenge");
  return s.step(b64Line(text));
}

/** A gogoc-shaped response text with a correct hash for the given fields. */
function respText(f: {
  user?: string;
  pass?: string;
  uri?: string;
  cnonce?: string;
  authzid?: string;
}): string {
  const user = f.user ?? GOGOC.user;
  const uri = f.uri ?? "tsp/" + GOGOC.host;
  const cnonce = f.cnonce ?? GOGOC.cnonce;
  const response = digestMd5Response({
    username: user,
    realm: GOGOC.realm,
    password: f.pass ?? GOGOC.pass,
    nonce: GOGOC.nonce,
    cnonce,
    digestUri: uri,
    authzid: f.authzid,
  });
  const q = (v: string) => '"' + v.replace(/["\\]/g, "\\$&") + '"';
  return `charset=utf-8,username=${q(user)},realm="${GOGOC.realm}",nonce="${GOGOC.nonce}",` +
    `nc=00000001,cnonce=${q(cnonce)},digest-uri=${q(uri)},response=${response},qop=auth` +
    (f.authzid !== undefined ? `,authzid=${q(f.authzid)}` : "");
}

test("sasl digest-md5 server: challenge is gogoc's exact text", () => {
  const s = server();
  assert.equal(s.mechanism, "DIGEST-MD5");
  const step = s.start();
  assert.equal(step.kind, "challenge");
  if (step.kind !== "challenge") return;
  assert.equal(unb64(step.line), GOGOC.challenge);
  assert.doesNotMatch(unb64(step.line), /, /);
  assert.equal(step.line, encodeBase64(line(GOGOC.challenge)));
});

test("sasl digest-md5 server: accepts the §8.3 interop response and proves rspauth", () => {
  const step = answer(GOGOC.clientResponse);
  assert.equal(step.kind, "success");
  if (step.kind !== "success") return;
  assert.equal(step.identity, "user1");
  assert.equal(step.final, encodeBase64(line("rspauth=" + GOGOC.rspauth)));
  assert.equal(unb64(step.final!), "rspauth=cc29113be15bac6e3394df8971f883bf");
});

test("sasl digest-md5 server: RFC 2831 §4 response with servType imap", () => {
  const s = digestMd5Server({
    realm: RFC2831.realm,
    lookup: (u) => (u === "chris" ? "secret" : undefined),
    nonce: () => RFC2831.nonce,
    servType: "imap",
  });
  s.start();
  const step = s.step(b64Line(
    'charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",' +
      'nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",' +
      "response=d388dad90d4bbd760a152321f2143af7,qop=auth",
  ));
  assert.equal(step.kind, "success");
  if (step.kind === "success") assert.equal(unb64(step.final!), "rspauth=" + RFC2831.rspauth);
});

test("sasl digest-md5 server: the same RFC response is refused for TSP (digest-uri imap/)", () => {
  const s = digestMd5Server({
    realm: RFC2831.realm,
    lookup: () => "secret",
    nonce: () => RFC2831.nonce,
  });
  s.start();
  const step = s.step(b64Line(
    'charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",' +
      'nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",' +
      "response=d388dad90d4bbd760a152321f2143af7,qop=auth",
  ));
  assert.equal(step.kind, "failure");
});

test("sasl digest-md5 server: any tsp/ digest-uri, verified with the URI sent", () => {
  for (
    const uri of [
      "tsp/broker.example",
      "tsp/192.0.2.1",
      "tsp/dstm.example",
      "tsp/[2001:db8::1]:3653",
    ]
  ) {
    const step = answer(respText({ uri }));
    assert.equal(step.kind, "success", uri);
    if (step.kind === "success") {
      const want = digestMd5Rspauth({
        username: "user1",
        realm: GOGOC.realm,
        password: "secret",
        nonce: GOGOC.nonce,
        cnonce: GOGOC.cnonce,
        digestUri: uri,
      });
      assert.equal(unb64(step.final!), "rspauth=" + want);
    }
  }
  // A hash computed for one URI does not pass with another.
  const text = respText({ uri: "tsp/a" }).replace('digest-uri="tsp/a"', 'digest-uri="tsp/b"');
  assert.equal(answer(text).kind, "failure");
});

test("sasl digest-md5 server: lenient syntax (blanks, order, unknown directives, case)", () => {
  const r = GOGOC.response;
  const texts = [
    ` charset = utf-8 , username = "user1" ,realm="dstm.example",, nonce="1795679425",nc=00000001,` +
    `cnonce="1795679425",digest-uri="tsp/[::1]",response=${r},qop=auth , `,
    `qop=auth,response=${r},digest-uri="tsp/[::1]",cnonce="1795679425",nc=00000001,` +
    `nonce="1795679425",realm="dstm.example",username="user1",charset=utf-8`,
    `charset=utf-8,username="user1",realm="dstm.example",nonce="1795679425",nc="00000001",` +
    `cnonce="1795679425",digest-uri="tsp/[::1]",response=${r.toUpperCase()},qop="auth",` +
    `maxbuf=65536,cipher=rc4,x-future="a,b\\"c"`,
    `CHARSET=UTF-8,USERNAME="us\\er1",Realm="dstm.example",Nonce="1795679425",NC=00000001,` +
    `cnonce="1795679425",digest-uri="tsp/[::1]",response=${r},QOP=auth`,
    // qop may be left out (defaults to auth); charset may be left out for ASCII names.
    `username="user1",realm="dstm.example",nonce="1795679425",nc=00000001,` +
    `cnonce="1795679425",digest-uri="tsp/[::1]",response=${r}`,
  ];
  for (const t of texts) {
    const step = answer(t);
    assert.equal(step.kind, "success", `${t}: ${JSON.stringify(step)}`);
    if (step.kind === "success") assert.equal(unb64(step.final!), "rspauth=" + GOGOC.rspauth);
  }
});

test("sasl digest-md5 server: refuses wrong values, one at a time", () => {
  const good = GOGOC.clientResponse;
  const swaps: [string, string, string][] = [
    ['username="user1"', 'username="user2"', "unknown user"],
    ['realm="dstm.example"', 'realm="other.example"', "realm"],
    ['nonce="1795679425"', 'nonce="1795679426"', "nonce mismatch"],
    ["nc=00000001", "nc=00000002", "nc"],
    ["nc=00000001", "nc=1", "nc"],
    ['cnonce="1795679425"', 'cnonce="1795679424"', "response mismatch"],
    ["qop=auth", "qop=auth-int", "qop"],
    ["qop=auth", "qop=AUTH", "qop"],
    ['digest-uri="tsp/[::1]"', 'digest-uri="tsp/"', "digest-uri"],
    ['digest-uri="tsp/[::1]"', 'digest-uri="ldap/[::1]"', "digest-uri"],
    ['digest-uri="tsp/[::1]"', 'digest-uri="tsp/[::2]"', "response mismatch"],
    [GOGOC.response, "e286e79a6527ce4d3ae2664f5a726e28", "response mismatch"],
    [GOGOC.response, GOGOC.response.slice(1), "32 hex"],
    [GOGOC.response, GOGOC.response.slice(0, 31) + "g", "32 hex"],
    ["charset=utf-8", "charset=iso-8859-1", "charset"],
    ['cnonce="1795679425"', 'cnonce=""', "no cnonce"],
    ['username="user1"', 'username=""', "no username"],
  ];
  for (const [from, to, why] of swaps) {
    assert.ok(good.includes(from));
    const step = answer(good.replace(from, to));
    assert.equal(step.kind, "failure", `${from} -> ${to}`);
    if (step.kind === "failure") assert.ok(step.reason.includes(why), `${to}: ${step.reason}`);
  }
});

test("sasl digest-md5 server: refuses missing and duplicated directives", () => {
  const parts = GOGOC.clientResponse.split(",");
  for (const required of ["username", "realm", "nonce", "nc", "cnonce", "digest-uri", "response"]) {
    const text = parts.filter((p) => !p.startsWith(required + "=")).join(",");
    assert.equal(answer(text).kind, "failure", `without ${required}`);
  }
  for (const p of parts) {
    assert.equal(answer(GOGOC.clientResponse + "," + p).kind, "failure", `twice ${p}`);
  }
});

test("sasl digest-md5 server: garbage, bad base64 and oversize lines are failures", () => {
  const lines = [
    new Uint8Array(0),
    line("not base64!"),
    line(GOGOC.clientResponse), // not base64-encoded
    line(encodeBase64(line(GOGOC.clientResponse)).slice(0, -5)),
    b64Line(""),
    b64Line("garbage"),
    b64Line('username="user1'),
    b64Line(GOGOC.clientResponse + "," + "x".repeat(5000)),
    new Uint8Array([0xff, 0x00, 0x41]),
  ];
  for (const l of lines) {
    const s = server();
    s.start();
    const step = s.step(l);
    assert.equal(step.kind, "failure");
  }
});

test("sasl digest-md5 server: wrong password, unknown user and throwing lookup", () => {
  assert.equal(answer(respText({ pass: "Secret" })).kind, "failure");
  const unknown = answer(respText({ user: "nobody" }));
  assert.deepEqual(unknown, { kind: "failure", reason: "DIGEST-MD5 unknown user" });
  const throwing = answer(GOGOC.clientResponse, {
    lookup: () => {
      throw new Error("db down");
    },
  });
  assert.equal(throwing.kind, "failure");
});

test("sasl digest-md5 server: authzid equal to the username is accepted, others refused", () => {
  const ok = answer(respText({ authzid: "user1" }));
  assert.equal(ok.kind, "success");
  assert.equal(answer(respText({ authzid: "admin" })).kind, "failure");
});

test("sasl digest-md5 server: escaped usernames are unescaped before hashing", () => {
  const step = answer(respText({ user: 'we"ird\\', pass: "pw" }));
  assert.deepEqual(step.kind === "success" && step.identity, 'we"ird\\');
});

test("sasl digest-md5 server: non-ASCII names, gogoc UTF-8 form and RFC 8859-1 form", () => {
  // gogoc: UTF-8 octets hashed as they are.
  const gogoc = answer(respText({ user: "jos\u00e9", pass: "p\u00e4ss" }));
  assert.deepEqual(gogoc.kind === "success" && gogoc.identity, "jos\u00e9");
  const cjk = answer(respText({ user: "\u4e2d\u6587", pass: "\u5bc6\u7801" }));
  assert.deepEqual(cjk.kind === "success" && cjk.identity, "\u4e2d\u6587");
  // RFC 2831 §2.1.2.1: with charset=utf-8, what fits in 8859-1 is hashed as 8859-1.
  const o = {
    secret: "jos\xe9:dstm.example:p\xe4ss",
    nonce: GOGOC.nonce,
    cnonce: "c",
    nc: "00000001",
    digestUri: "tsp/h",
  };
  const { response, rspauth } = digestMd5Octets(o);
  const rfc = answer(
    `charset=utf-8,username="jos\u00e9",realm="dstm.example",nonce="${GOGOC.nonce}",` +
      `nc=00000001,cnonce="c",digest-uri="tsp/h",response=${response},qop=auth`,
  );
  assert.deepEqual(rfc.kind === "success" && unb64(rfc.final!), "rspauth=" + rspauth);
  // Without charset, the octets are 8859-1: the username arrives as the single octet 0xe9.
  const s = server();
  s.start();
  const text = `username="jos\xe9",realm="dstm.example",nonce="${GOGOC.nonce}",nc=00000001,` +
    `cnonce="c",digest-uri="tsp/h",response=${response},qop=auth`;
  const latin = s.step(bytesFromBin(encodeBase64(bytesFromBin(text))));
  assert.deepEqual(latin.kind === "success" && latin.identity, "jos\u00e9");
  // With charset=utf-8, invalid UTF-8 in the username is refused.
  const t = server();
  t.start();
  const bad = t.step(bytesFromBin(encodeBase64(bytesFromBin("charset=utf-8," + text))));
  assert.equal(bad.kind, "failure");
});

test("sasl digest-md5 server: legacy A1 (gogoc Bug1455) only with acceptLegacyA1", () => {
  let pass = "";
  for (let i = 0; pass === ""; i++) {
    if (md5(bytesFromBin(utf8ToBin(`user1:${GOGOC.realm}:pw${i}`))).includes(0)) pass = `pw${i}`;
  }
  const local: Record<string, string> = { ...users, user1: pass };
  const lk = (u: string) => local[u];
  const p = {
    username: "user1",
    realm: GOGOC.realm,
    password: pass,
    nonce: GOGOC.nonce,
    cnonce: GOGOC.cnonce,
    digestUri: "tsp/" + GOGOC.host,
  };
  const text = GOGOC.clientResponse.replace(
    GOGOC.response,
    digestMd5Response({ ...p, legacyA1: true }),
  );
  assert.equal(answer(text, { lookup: lk }).kind, "failure");
  const step = answer(text, { lookup: lk, acceptLegacyA1: true });
  assert.equal(step.kind, "success");
  if (step.kind === "success") {
    assert.equal(unb64(step.final!), "rspauth=" + digestMd5Rspauth({ ...p, legacyA1: true }));
  }
  // The correct form is still accepted with the option on.
  const modern = GOGOC.clientResponse.replace(GOGOC.response, digestMd5Response(p));
  assert.equal(answer(modern, { lookup: lk, acceptLegacyA1: true }).kind, "success");
});

test("sasl digest-md5 server: single use, needs start, one nonce per exchange", () => {
  let n = 0;
  const s = server({ nonce: () => `n${n++}` });
  assert.equal(s.step(b64Line(GOGOC.clientResponse)).kind, "failure");
  const c = s.start();
  assert.ok(c.kind === "challenge" && unb64(c.line).includes('nonce="n0"'));
  assert.equal(s.start().kind, "failure");
  assert.equal(s.step(b64Line(GOGOC.clientResponse)).kind, "failure"); // nonce n0 expected
  assert.equal(s.step(b64Line(GOGOC.clientResponse)).kind, "failure"); // done
  assert.equal(n, 1);
});

test("sasl digest-md5 server: bad options throw, bad nonce() throws RangeError on start", () => {
  const base = { realm: "r", lookup, nonce: () => "n" };
  for (const realm of ["", "a,b", 'a"b', "a\\b", "caf\u00e9", "a\nb"]) {
    assert.throws(() => digestMd5Server({ ...base, realm }), TypeError, JSON.stringify(realm));
  }
  assert.throws(() => digestMd5Server({ ...base, lookup: undefined as never }), TypeError);
  assert.throws(() => digestMd5Server({ ...base, nonce: undefined as never }), TypeError);
  assert.throws(() => digestMd5Server({ ...base, servType: "a/b" }), TypeError);
  assert.throws(() => digestMd5Server(undefined as never), TypeError);
  for (const nonce of ["", "a,b", 'a"', "x".repeat(257), 5 as unknown as string]) {
    const s = digestMd5Server({ ...base, nonce: () => nonce });
    assert.throws(() => s.start(), RangeError, JSON.stringify(nonce));
  }
});
