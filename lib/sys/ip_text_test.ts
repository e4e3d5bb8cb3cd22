import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatIp,
  formatIpv4,
  formatIpv6,
  parseIp,
  parseIpv4,
  parseIpv6,
  parsePrefix,
} from "./ip_text.ts";
import { Prng } from "../testing/prng.ts";

test("sys ip text: strict dotted-decimal IPv4", () => {
  assert.deepEqual(parseIpv4("192.0.2.1"), new Uint8Array([192, 0, 2, 1]));
  assert.deepEqual(parseIpv4("0.0.0.0"), new Uint8Array(4));
  for (const bad of ["", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1.2.3.x", " 1.2.3.4"]) {
    assert.equal(parseIpv4(bad), null, bad);
  }
});

test("sys ip text: IPv6 forms (RFC 4291 §2.2)", () => {
  const full = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  assert.deepEqual(parseIpv6("2001:db8::1"), new Uint8Array(full));
  assert.deepEqual(parseIpv6("2001:DB8:0:0:0:0:0:1"), new Uint8Array(full));
  assert.deepEqual(parseIpv6("::"), new Uint8Array(16));
  assert.deepEqual(
    parseIpv6("::ffff:192.0.2.1")?.subarray(10),
    new Uint8Array([255, 255, 192, 0, 2, 1]),
  );
  for (
    const bad of [
      "",
      ":",
      "1::2::3",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "g::",
      "::1.2.3",
      "fe80::1%eth0",
      "1:2:3:4:5:6:7::8",
    ]
  ) {
    assert.equal(parseIpv6(bad), null, bad);
  }
});

test("sys ip text: RFC 5952 formatting", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["fe80:0:0:0:0:0:0:0", "fe80::"],
    ["::ffff:c000:201", "::ffff:192.0.2.1"],
  ];
  for (const [inp, out] of cases) assert.equal(formatIpv6(parseIpv6(inp)!), out, inp);
  assert.equal(formatIpv4(new Uint8Array([9, 1, 192, 0, 2, 1]), 2), "192.0.2.1");
});

test("sys ip text: prefixes", () => {
  assert.deepEqual(parsePrefix("10.0.0.0/8"), {
    family: 4,
    bytes: new Uint8Array([10, 0, 0, 0]),
    prefixLength: 8,
  });
  assert.equal(parsePrefix("10.0.0.1")?.prefixLength, 32);
  assert.equal(parsePrefix("2001:db8::/32")?.prefixLength, 32);
  assert.equal(parsePrefix("2001:db8::1")?.prefixLength, 128);
  for (const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "::/129", "x/1"]) {
    assert.equal(parsePrefix(bad), null, bad);
  }
  assert.equal(parseIp("1.2.3.4")?.family, 4);
  assert.equal(parseIp("::1")?.family, 6);
  assert.equal(parseIp("nope"), null);
});

test("sys ip text: seeded random IPv6 round trip", () => {
  const rng = new Prng(0x6a);
  for (let i = 0; i < 3000; i++) {
    const b = rng.bytes(16);
    // Make zero runs common.
    for (let k = 0; k < 8; k++) if (rng.int(3) === 0) b[2 * k] = b[2 * k + 1] = 0;
    const text = formatIp(b);
    assert.deepEqual(parseIpv6(text), b, text);
  }
});

test("sys ip text: random strings never throw", () => {
  const rng = new Prng(99);
  const alphabet = "0123456789abcdefABCDEF:./%x ";
  for (let i = 0; i < 5000; i++) {
    let s = "";
    const n = rng.int(50);
    for (let k = 0; k < n; k++) s += alphabet[rng.int(alphabet.length)];
    parseIp(s);
    parsePrefix(s);
  }
});
