import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { formatAuthenticateLine, parseAuthenticateLine } from "./authenticate.ts";
import { mutateText, pick } from "./_fuzz.ts";

test("authenticate: parse and format", () => {
  assert.deepEqual(parseAuthenticateLine("AUTHENTICATE ANONYMOUS"), {
    ok: true,
    mechanism: "ANONYMOUS",
  });
  assert.deepEqual(parseAuthenticateLine("authenticate digest-md5 "), {
    ok: true,
    mechanism: "DIGEST-MD5",
  });
  assert.deepEqual(parseAuthenticateLine("AUTHENTICATE"), {
    ok: false,
    reason: "missing-mechanism",
  });
  assert.deepEqual(parseAuthenticateLine("AUTHENTICATE A B"), {
    ok: false,
    reason: "missing-mechanism",
  });
  assert.deepEqual(parseAuthenticateLine("VERSION=2.0.0"), {
    ok: false,
    reason: "not-authenticate",
  });
  assert.equal(formatAuthenticateLine("plain"), "AUTHENTICATE PLAIN");
  assert.throws(() => formatAuthenticateLine("A B"), TypeError);
});

test("authenticate: 100k random and mutated lines never throw", () => {
  const rng = new Prng(0xa07);
  for (let i = 0; i < 100_000; i++) {
    const line = i % 2
      ? mutateText(rng, "AUTHENTICATE " + pick(rng, ["ANONYMOUS", "PLAIN", "DIGEST-MD5"]))
      : String.fromCharCode(...rng.bytes(rng.int(30)));
    const r = parseAuthenticateLine(line);
    assert.ok(r.ok || r.reason === "not-authenticate" || r.reason === "missing-mechanism");
  }
});
