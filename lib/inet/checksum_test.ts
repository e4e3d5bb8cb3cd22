import { test } from "node:test";
import assert from "node:assert/strict";
import {
  foldSum,
  internetChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  onesSum,
  updateChecksum16,
} from "./checksum.ts";
import { Prng } from "../testing/prng.ts";
import { hex, shifted } from "./_testing.ts";
import { PING4_REQUEST, PING6_REQUEST, UDP4, UDP6 } from "./_captures.ts";

// The UDP checksums of the loopback captures are left to offload, so the stored values are
// wrong; tcpdump printed the correct ones ("bad udp cksum 0xfe25 -> 0x5e1c!", "0x0025 -> 0xfac3!").
const PING4 = PING4_REQUEST;
const PING6 = PING6_REQUEST.slice();

test("inet: checksum matches the RFC 1071 §3 numerical example", () => {
  const data = hex("00 01 f2 03 f4 f5 f6 f7");
  assert.equal(onesSum(data, 0, 8), 0xddf2);
  assert.equal(internetChecksum(data, 0, 8), 0x220d);
  // Byte-order independence (RFC 1071 §2(B)): the swapped sum is the swap of the sum.
  const swapped = hex("01 00 03 f2 f5 f4 f7 f6");
  assert.equal(onesSum(swapped, 0, 8), 0xf2dd);
});

test("inet: checksum pads an odd final byte with zero", () => {
  assert.equal(onesSum(hex("01"), 0, 1), 0x0100);
  assert.equal(onesSum(hex("00 01 f2"), 0, 3), 0xf201);
  assert.equal(onesSum(new Uint8Array(0), 0, 0, 0x1234), 0x1234);
});

test("inet: checksum of a captured IPv4 header verifies and recomputes to the stored value", () => {
  assert.equal(internetChecksum(PING4, 0, 20), 0);
  const h = PING4.slice(0, 20);
  h[10] = 0;
  h[11] = 0;
  assert.equal(internetChecksum(h, 0, 20), 0x2e5c);
  // The ICMP message (no pseudo-header) verifies too.
  assert.equal(internetChecksum(PING4, 20, PING4.length - 20), 0);
});

test("inet: pseudo-header sums reproduce the UDP checksums tcpdump computed", () => {
  const u4 = UDP4.slice();
  u4[26] = 0;
  u4[27] = 0;
  const p4 = ipv4PseudoHeaderSum(0x7f000001, 0x7f000001, 17, 18);
  assert.equal(internetChecksum(u4, 20, 18, p4), 0x5e1c);
  const u6 = UDP6.slice();
  u6[46] = 0;
  u6[47] = 0;
  const p6 = ipv6PseudoHeaderSum(u6, 8, u6, 24, 18, 17);
  assert.equal(internetChecksum(u6, 40, 18, p6), 0xfac3);
});

test("inet: the IPv6 pseudo-header sum verifies a captured ICMPv6 echo request", () => {
  const sum = ipv6PseudoHeaderSum(PING6, 8, PING6, 24, 64, 58);
  assert.equal(internetChecksum(PING6, 40, 64, sum), 0);
  // Source and destination may come from different buffers.
  const src = PING6.slice(8, 24);
  assert.equal(ipv6PseudoHeaderSum(src, 0, PING6, 24, 64, 58), sum);
  PING6[60] ^= 1;
  assert.notEqual(internetChecksum(PING6, 40, 64, sum), 0);
  PING6[60] ^= 1;
});

test("inet: incremental update follows RFC 1624 §4 (gives 0x0000, not 0xffff)", () => {
  assert.equal(updateChecksum16(0xdd2f, 0x5555, 0x3285), 0x0000);
});

test("inet: checksum works on subarray views with a non-zero byteOffset", () => {
  const v = shifted(PING4, 13);
  assert.notEqual(v.byteOffset, 0);
  assert.equal(internetChecksum(v, 0, 20), 0);
  assert.equal(onesSum(v, 1, 19), onesSum(PING4.slice(1, 20), 0, 19));
  const s = shifted(PING6, 3);
  assert.equal(internetChecksum(s, 40, 64, ipv6PseudoHeaderSum(s, 8, s, 24, 64, 58)), 0);
});

test("inet: checksum rejects ranges outside the buffer as programmer errors", () => {
  const b = new Uint8Array(8);
  assert.throws(() => onesSum(b, 4, 5), RangeError);
  assert.throws(() => internetChecksum(b, -1, 2), RangeError);
  assert.throws(() => onesSum(b.subarray(2), 0, 7), RangeError);
});

test("inet: checksum random properties (chaining, verification, incremental = full)", () => {
  const rng = new Prng(0x1071);
  const buf = new Uint8Array(1600);
  for (let n = 0; n < 2000; n++) {
    const len = 2 + 2 * rng.int(700);
    rng.fill(buf.subarray(0, len));
    // Chaining over an even split equals one pass.
    const cut = 2 * rng.int(len / 2 + 1);
    assert.equal(onesSum(buf, cut, len - cut, onesSum(buf, 0, cut)), onesSum(buf, 0, len));
    // Storing the checksum in a zeroed field makes the range verify.
    const at = 2 * rng.int(len / 2);
    buf[at] = 0;
    buf[at + 1] = 0;
    const c = internetChecksum(buf, 0, len);
    buf[at] = c >> 8;
    buf[at + 1] = c & 0xff;
    assert.equal(internetChecksum(buf, 0, len), 0);
    // Change another word and update incrementally: same as recomputing.
    let w = 2 * rng.int(len / 2);
    if (w === at) w = (w + 2) % len;
    if (w === at) continue; // a 2-byte range has no other word
    const old = (buf[w] << 8) | buf[w + 1];
    const neu = rng.int(0x10000);
    buf[w] = neu >> 8;
    buf[w + 1] = neu & 0xff;
    const inc = updateChecksum16(c, old, neu);
    buf[at] = 0;
    buf[at + 1] = 0;
    assert.equal(inc, internetChecksum(buf, 0, len), `n=${n}`);
  }
  assert.equal(foldSum(0x1ffff), 1);
  assert.equal(foldSum(2 ** 48 + 5), 6);
});
