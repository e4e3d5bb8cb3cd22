import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { formatCapabilityLine, parseCapabilityLine } from "./capability.ts";
import { mutateText } from "./_fuzz.ts";

test("capability: format upper-case tokens in order (§2.3)", () => {
  assert.equal(
    formatCapabilityLine({ tunnels: ["v4v6"], mechanisms: ["DIGEST-MD5", "ANONYMOUS"] }),
    "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=ANONYMOUS",
  );
  assert.throws(() => formatCapabilityLine({ tunnels: ["V4 V6"], mechanisms: [] }), TypeError);
  assert.throws(() => formatCapabilityLine({ tunnels: [], mechanisms: [""] }), TypeError);
});

test("capability: parse any case, keep unknown tokens apart", () => {
  const r = parseCapabilityLine(
    "capability TUNNEL=v4v6  AUTH=digest-md5 AUTH=ANONYMOUS FOO TUNNEL=V6V4",
  );
  assert.ok(r.ok);
  assert.deepEqual(r.capabilities, {
    tunnels: ["V4V6", "V6V4"],
    mechanisms: ["DIGEST-MD5", "ANONYMOUS"],
    other: ["FOO"],
  });
  assert.deepEqual(parseCapabilityLine("200 Success"), { ok: false, reason: "not-capability" });
  assert.deepEqual(parseCapabilityLine("CAPABILITY " + "x".repeat(2000)), {
    ok: false,
    reason: "too-long",
  });
});

test("capability: 100k random and mutated lines never throw", () => {
  const rng = new Prng(0xca9);
  for (let i = 0; i < 100_000; i++) {
    const line = i % 2
      ? mutateText(rng, "CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=ANONYMOUS")
      : String.fromCharCode(...rng.bytes(rng.int(30)));
    const r = parseCapabilityLine(line);
    assert.ok(r.ok || r.reason === "not-capability" || r.reason === "too-long");
  }
});
