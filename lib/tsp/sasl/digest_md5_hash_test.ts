import assert from "node:assert/strict";
import { test } from "node:test";
import { md5, utf8ToBin } from "./_binary.ts";
import { bytesFromBin } from "./_binary.ts";
import { digestMd5Response, digestMd5Rspauth, legacyA1Differs } from "./digest_md5_hash.ts";
import { GOGOC, RFC2831 } from "./_testing.ts";

test("sasl digest-md5 hash: RFC 2831 §4 example", () => {
  const p = {
    username: RFC2831.user,
    realm: RFC2831.realm,
    password: RFC2831.pass,
    nonce: RFC2831.nonce,
    cnonce: RFC2831.cnonce,
    digestUri: RFC2831.digestUri,
  };
  assert.equal(digestMd5Response(p), RFC2831.response);
  assert.equal(digestMd5Rspauth(p), RFC2831.rspauth);
  assert.equal(digestMd5Response({ ...p, nc: "00000001" }), RFC2831.response);
});

test("sasl digest-md5 hash: brief §8.3 gogoc interop vector", () => {
  const p = {
    username: GOGOC.user,
    realm: GOGOC.realm,
    password: GOGOC.pass,
    nonce: GOGOC.nonce,
    cnonce: GOGOC.cnonce,
    digestUri: "tsp/" + GOGOC.host,
  };
  assert.equal(digestMd5Response(p), GOGOC.response);
  assert.equal(digestMd5Rspauth(p), GOGOC.rspauth);
});

test("sasl digest-md5 hash: every input changes the result", () => {
  const base = {
    username: "u",
    realm: "r",
    password: "p",
    nonce: "n",
    cnonce: "c",
    digestUri: "tsp/h",
  };
  const r0 = digestMd5Response(base);
  assert.match(r0, /^[0-9a-f]{32}$/);
  const variants = [
    { username: "v" },
    { realm: "s" },
    { password: "q" },
    { nonce: "m" },
    { cnonce: "d" },
    { digestUri: "tsp/i" },
    { nc: "00000002" },
    { authzid: "u" },
  ];
  for (const v of variants) assert.notEqual(digestMd5Response({ ...base, ...v }), r0);
  assert.notEqual(digestMd5Rspauth(base), r0);
});

test("sasl digest-md5 hash: legacy A1 (gogoc Bug1455) only differs with a zero octet", () => {
  let zeroPass = "";
  let plainPass = "";
  for (let i = 0; zeroPass === "" || plainPass === ""; i++) {
    const pass = `p${i}`;
    const inner = md5(bytesFromBin(utf8ToBin(`user1:dstm.example:${pass}`)));
    if (inner.includes(0)) zeroPass ||= pass;
    else plainPass ||= pass;
  }
  const p = {
    username: "user1",
    realm: "dstm.example",
    nonce: "1",
    cnonce: "2",
    digestUri: "tsp/x",
  };
  assert.ok(legacyA1Differs(utf8ToBin(`user1:dstm.example:${zeroPass}`)));
  assert.ok(!legacyA1Differs(utf8ToBin(`user1:dstm.example:${plainPass}`)));
  assert.equal(
    digestMd5Response({ ...p, password: plainPass, legacyA1: true }),
    digestMd5Response({ ...p, password: plainPass }),
  );
  assert.notEqual(
    digestMd5Response({ ...p, password: zeroPass, legacyA1: true }),
    digestMd5Response({ ...p, password: zeroPass }),
  );
  // The legacy A1 ignores nonce and cnonce (they were after the cut), the response does not.
  assert.notEqual(
    digestMd5Response({ ...p, password: zeroPass, legacyA1: true }),
    digestMd5Response({ ...p, password: zeroPass, legacyA1: true, nonce: "9" }),
  );
});
