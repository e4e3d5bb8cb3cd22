import { test } from "node:test";
import assert from "node:assert/strict";
import { formatIpv4, ipv4FromBytes, ipv4ToBytes, parseIpv4 } from "./ipv4.ts";
import { Prng } from "../testing/prng.ts";
import { mutate, randomAddressText } from "./_fuzz.ts";

test("addr: parseIpv4 accepts dotted-quad decimal", () => {
  const cases: [string, number][] = [
    ["0.0.0.0", 0],
    ["255.255.255.255", 0xffffffff],
    ["192.0.2.1", 0xc0000201],
    ["198.51.100.254", 0xc63364fe],
    ["10.0.0.1", 0x0a000001],
    ["127.0.0.1", 0x7f000001],
    ["1.2.3.4", 0x01020304],
    ["203.0.113.0", 0xcb007100],
  ];
  for (const [text, value] of cases) {
    assert.deepEqual(parseIpv4(text), { ok: true, value }, text);
  }
});

test("addr: parseIpv4 trims XML whitespace, including newlines from TSP XML", () => {
  const want = { ok: true, value: 0xc0000201 };
  assert.deepEqual(parseIpv4(" 192.0.2.1"), want);
  assert.deepEqual(parseIpv4("192.0.2.1 "), want);
  assert.deepEqual(parseIpv4("\n      192.0.2.1\n    "), want);
  assert.deepEqual(parseIpv4("\r\n\t192.0.2.1\r\n"), want);
});

test("addr: parseIpv4 refuses inet_aton forms and malformed text with a reason", () => {
  const cases: [string, string][] = [
    ["", "empty"],
    [" \n\t", "empty"],
    ["010.0.0.1", "leading-zero"],
    ["10.0.0.01", "leading-zero"],
    ["00.0.0.0", "leading-zero"],
    ["1.2.3.000", "leading-zero"],
    ["0x0a.0.0.1", "invalid-char"],
    ["0x0a000001", "invalid-char"],
    ["10.1", "part-count"],
    ["10.1.2", "part-count"],
    ["167772161", "part-count"],
    ["1.2.3.4.5", "part-count"],
    ["1.2.3.4.", "empty-part"],
    [".1.2.3", "empty-part"],
    ["1..2.3", "empty-part"],
    ["1.2.3.", "empty-part"],
    ["256.0.0.1", "out-of-range"],
    ["1.2.3.999", "out-of-range"],
    ["1.2.3.4444", "out-of-range"],
    ["1.2. 3.4", "invalid-char"],
    ["1.2.3.4 x", "invalid-char"],
    ["192.0.2.1/24", "invalid-char"],
    ["::ffff:1.2.3.4", "invalid-char"],
    ["-1.2.3.4", "invalid-char"],
    ["+1.2.3.4", "invalid-char"],
    ["1.2.3.4%eth0", "invalid-char"],
    ["\u00a01.2.3.4", "invalid-char"],
    ["1.2.3.\u0664", "invalid-char"], // Arabic-Indic digit four
    ["1.2.3.4\f", "invalid-char"],
    ["1234.1234.1234.1234", "too-long"],
    ["1.2.3.4".padEnd(40, "0"), "too-long"],
  ];
  for (const [text, reason] of cases) {
    assert.deepEqual(parseIpv4(text), { ok: false, reason }, JSON.stringify(text));
  }
});

test("addr: parseIpv4 returns a result, not a throw, for non-string input", () => {
  for (const v of [undefined, null, 42, {}, ["1.2.3.4"]]) {
    assert.deepEqual(parseIpv4(v as unknown as string), { ok: false, reason: "not-a-string" });
  }
});

test("addr: formatIpv4 writes dotted-quad decimal and rejects non-uint32 values", () => {
  assert.equal(formatIpv4(0), "0.0.0.0");
  assert.equal(formatIpv4(0xffffffff), "255.255.255.255");
  assert.equal(formatIpv4(0xc0000201), "192.0.2.1");
  assert.equal(formatIpv4(0x0a00000a), "10.0.0.10");
  for (const bad of [-1, 0x100000000, 1.5, NaN, Infinity]) {
    assert.throws(() => formatIpv4(bad), RangeError, String(bad));
  }
});

test("addr: ipv4ToBytes and ipv4FromBytes use network byte order on subarray views", () => {
  const backing = new Uint8Array(16).fill(0xee);
  const view = backing.subarray(5, 13); // byteOffset 5, length 8
  assert.equal(ipv4ToBytes(0xc0000201, view, 2), 4);
  assert.deepEqual([...backing.subarray(7, 11)], [192, 0, 2, 1]);
  assert.equal(backing[6], 0xee);
  assert.equal(backing[11], 0xee);
  assert.equal(ipv4FromBytes(view, 2), 0xc0000201);
  assert.equal(ipv4FromBytes(backing, 7), 0xc0000201);
  // High bit set: the result stays unsigned.
  assert.equal(ipv4ToBytes(0xfffffffe, view, 4), 4);
  assert.equal(ipv4FromBytes(view, 4), 0xfffffffe);
});

test("addr: ipv4ToBytes returns 0 without writing when out has no room", () => {
  const out = new Uint8Array(6).fill(7);
  assert.equal(ipv4ToBytes(0x01020304, out, 3), 0);
  assert.equal(ipv4ToBytes(0x01020304, out, -1), 0);
  assert.equal(ipv4ToBytes(0x01020304, out.subarray(0, 3), 0), 0);
  assert.deepEqual([...out], [7, 7, 7, 7, 7, 7]);
  assert.equal(ipv4ToBytes(0x01020304, out, 2), 4);
  assert.throws(() => ipv4ToBytes(-5, out, 0), RangeError);
});

test("addr: ipv4FromBytes throws RangeError when reading past the end", () => {
  const buf = new Uint8Array(8);
  assert.throws(() => ipv4FromBytes(buf, 5), RangeError);
  assert.throws(() => ipv4FromBytes(buf.subarray(4, 7), 0), RangeError);
  assert.throws(() => ipv4FromBytes(buf, -1), RangeError);
  assert.equal(ipv4FromBytes(buf, 4), 0);
});

test("addr: IPv4 format, parse and bytes round trip for seeded random addresses", () => {
  const rng = new Prng(0x1f4);
  const buf = new Uint8Array(4);
  for (let i = 0; i < 20_000; i++) {
    const a = rng.u32();
    const text = formatIpv4(a);
    assert.deepEqual(parseIpv4(text), { ok: true, value: a }, text);
    assert.equal(ipv4ToBytes(a, buf, 0), 4);
    assert.equal(ipv4FromBytes(buf, 0), a);
  }
});

test("addr: parseIpv4 never throws and accepts only canonical text on 200k random inputs", () => {
  const rng = new Prng(0xadd4);
  let accepted = 0;
  const check = (text: string) => {
    const r = parseIpv4(text);
    if (r.ok) {
      accepted++;
      // Strictness means the accepted text, once trimmed, is exactly the canonical form.
      assert.equal(formatIpv4(r.value), text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ""), text);
    } else {
      assert.equal(typeof r.reason, "string");
    }
  };
  for (let i = 0; i < 100_000; i++) check(randomAddressText(rng, 20));
  for (let i = 0; i < 100_000; i++) check(mutate(rng, formatIpv4(rng.u32())));
  assert.ok(accepted > 1000, `only ${accepted} accepted: the mutations are too destructive`);
});
