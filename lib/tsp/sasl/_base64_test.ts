import assert from "node:assert/strict";
import { test } from "node:test";
import { Prng } from "../../testing/prng.ts";
import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { line } from "./_testing.ts";

test("sasl base64: RFC 4648 §10 vectors both ways", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg=="],
    ["fooba", "Zm9vYmE="],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [plain, coded] of vectors) {
    assert.equal(encodeBase64(line(plain)), coded);
    const r = decodeBase64(line(coded), 100);
    assert.ok(r.ok);
    assert.deepEqual(r.bytes, line(plain));
  }
});

test("sasl base64: seeded random round trip matches btoa", () => {
  const prng = new Prng(0x5a51);
  for (let i = 0; i < 2000; i++) {
    const bytes = prng.bytes(prng.int(70));
    const coded = encodeBase64(bytes);
    assert.equal(coded, btoa(String.fromCharCode(...bytes)));
    const r = decodeBase64(line(coded), 100);
    assert.ok(r.ok);
    assert.deepEqual(r.bytes, bytes);
  }
});

test("sasl base64: decodes a subarray, unpadded input and surrounding blanks and NULs", () => {
  const buf = line("xxZm9vYg==yy");
  const r = decodeBase64(buf.subarray(2, 10), 100);
  assert.ok(r.ok);
  assert.deepEqual(r.bytes, line("foob"));
  const u = decodeBase64(line("Zm9vYg"), 100);
  assert.ok(u.ok);
  assert.deepEqual(u.bytes, line("foob"));
  const w = decodeBase64(line("\0 \tZm9v \t\0"), 100);
  assert.ok(w.ok);
  assert.deepEqual(w.bytes, line("foo"));
});

test("sasl base64: refuses bad characters, lengths, padding and oversize input", () => {
  const bad: [string, string][] = [
    ["Zm9!", "invalid-char"],
    ["Zm 9", "invalid-char"],
    ["Zm9vY", "bad-length"],
    ["Zg=", "bad-padding"],
    ["Z=g=", "bad-padding"],
    ["=", "bad-padding"],
    ["Zm9v====", "bad-padding"],
  ];
  for (const [text, reason] of bad) {
    const r = decodeBase64(line(text), 100);
    assert.deepEqual(r, { ok: false, reason }, text);
  }
  assert.deepEqual(decodeBase64(line("Zm9vYmFy"), 5), { ok: false, reason: "too-long" });
});

test("sasl base64: random bytes never throw", () => {
  const prng = new Prng(77);
  for (let i = 0; i < 20000; i++) {
    const r = decodeBase64(prng.bytes(prng.int(40)), 16);
    assert.equal(typeof r.ok, "boolean");
  }
});
