import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ICMPV4_REASONS,
  ICMPV4_TYPE,
  ICMPV4_UNREACH,
  icmpv4ErrorAllowed,
  parseIcmpv4,
  writeIcmpv4AdminProhibited,
  writeIcmpv4Echo,
  writeIcmpv4Error,
  writeIcmpv4FragmentationNeeded,
  writeIcmpv4HostUnreachable,
  writeIcmpv4TimeExceeded,
} from "./icmpv4.ts";
import { checkIpv4, fillIpv4Checksum, ipv4Dst, ipv4Src, parseIpv4 } from "./ipv4.ts";
import { internetChecksum } from "./checksum.ts";
import { Prng } from "../testing/prng.ts";
import { forEachHostileInput, hex, shifted, toHex } from "./_testing.ts";
import {
  FRAG4_FIRST,
  FRAG4_LAST,
  FRAG4_UNREACH,
  PING4_REPLY,
  PING4_REQUEST,
  PORT_UNREACH4,
  REASSEMBLED4,
  UDP4,
} from "./_captures.ts";

const LO = 0x7f000001;

test("inet: parseIcmpv4 reads captured echo request, reply and port unreachable", () => {
  const req = parseIcmpv4(PING4_REQUEST.subarray(20));
  assert.ok(req.ok);
  assert.equal(req.type, ICMPV4_TYPE.ECHO_REQUEST);
  assert.equal(req.code, 0);
  assert.equal(req.checksum, 0x50fa);
  assert.equal(req.identifier, 0x12bc);
  assert.equal(req.sequence, 1);
  assert.equal(req.original, null);
  assert.equal(req.body.length, 56);
  const rep = parseIcmpv4(PING4_REPLY.subarray(20));
  assert.ok(rep.ok);
  assert.equal(rep.type, ICMPV4_TYPE.ECHO_REPLY);
  assert.equal(rep.identifier, 0x12bc);
  const un = parseIcmpv4(PORT_UNREACH4.subarray(20));
  assert.ok(un.ok);
  assert.equal(un.type, 3);
  assert.equal(un.code, ICMPV4_UNREACH.PORT);
  assert.equal(un.identifier, 0);
  assert.ok(un.original !== null);
  assert.equal(toHex(un.original), toHex(UDP4));
  const big = parseIcmpv4(FRAG4_UNREACH.subarray(20));
  assert.ok(big.ok);
  assert.equal(toHex(big.original!), toHex(REASSEMBLED4.subarray(0, 548)));
});

test("inet: writeIcmpv4Error reproduces the kernel's port unreachable messages byte for byte", () => {
  const out = new Uint8Array(1500);
  const spec = { src: LO, type: 3, code: 3, identification: 3667 };
  const n = writeIcmpv4Error(spec, UDP4, out);
  assert.equal(n, PORT_UNREACH4.length);
  assert.equal(toHex(out.subarray(0, n)), toHex(PORT_UNREACH4));
  // Quote limited so that the whole error is 576 bytes (RFC 1812 §4.3.2.3).
  const m = writeIcmpv4Error(
    { src: 0xc0000202, type: 3, code: 3, identification: 0xfb84 },
    REASSEMBLED4,
    out,
  );
  assert.equal(m, 576);
  assert.equal(toHex(out.subarray(0, m)), toHex(FRAG4_UNREACH));
});

test("inet: writeIcmpv4Echo reproduces captured ping request and reply", () => {
  const out = new Uint8Array(100);
  const data = PING4_REQUEST.subarray(28);
  const base = { identifier: 0x12bc, sequence: 1, data, src: LO, dst: LO };
  let n = writeIcmpv4Echo(
    { ...base, reply: false, identification: 0x0e4b, dontFragment: true },
    out,
  );
  assert.equal(toHex(out.subarray(0, n)), toHex(PING4_REQUEST));
  n = writeIcmpv4Echo({ ...base, reply: true, identification: 0x0e4c }, out);
  assert.equal(toHex(out.subarray(0, n)), toHex(PING4_REPLY));
  // Answering in place: the request's data is already where the reply's goes.
  const buf = PING4_REQUEST.slice();
  n = writeIcmpv4Echo(
    { ...base, data: buf.subarray(28), reply: true, identification: 0x0e4c },
    buf,
  );
  assert.equal(toHex(buf.subarray(0, n)), toHex(PING4_REPLY));
  assert.equal(writeIcmpv4Echo({ ...base, reply: true }, new Uint8Array(83)), 0);
  assert.equal(writeIcmpv4Echo({ ...base, reply: true, identifier: 65536 }, out), 0);
});

test("inet: named ICMPv4 error builders (3/1, 3/4 with MTU, 3/13, 11/0)", () => {
  const src = 0xc0000201; // 192.0.2.1
  const out = new Uint8Array(700);
  const builds: [number, number, number, (o: Uint8Array) => number][] = [
    [3, 1, 0, (o) => writeIcmpv4HostUnreachable(src, PING4_REQUEST, o)],
    [3, 4, 1460, (o) => writeIcmpv4FragmentationNeeded(src, 1460, PING4_REQUEST, o)],
    [3, 13, 0, (o) => writeIcmpv4AdminProhibited(src, PING4_REQUEST, o)],
    [11, 0, 0, (o) => writeIcmpv4TimeExceeded(src, PING4_REQUEST, o)],
  ];
  for (const [type, code, mtu, build] of builds) {
    const n = build(out);
    assert.equal(n, 20 + 8 + PING4_REQUEST.length);
    const ip = parseIpv4(out.subarray(0, n));
    assert.ok(ip.ok);
    assert.equal(ip.header.src, src);
    assert.equal(ip.header.dst, LO);
    assert.equal(ip.header.protocol, 1);
    assert.equal(ip.header.tos, 0xc0);
    assert.equal(ip.header.ttl, 64);
    assert.equal(ip.header.dontFragment, false);
    const m = parseIcmpv4(ip.payload);
    assert.ok(m.ok);
    assert.deepEqual([m.type, m.code, m.mtu], [type, code, mtu]);
    assert.equal(toHex(m.original!), toHex(PING4_REQUEST));
  }
  assert.equal(writeIcmpv4FragmentationNeeded(src, 65536, PING4_REQUEST, out), 0);
});

test("inet: ICMPv4 errors quote the IP header and 8 bytes at least, 576 bytes in all at most", () => {
  const out = new Uint8Array(2000);
  // An original shorter than header + 8 bytes is quoted whole.
  const tiny = REASSEMBLED4.slice(0, 24);
  tiny[2] = 0;
  tiny[3] = 24;
  fillIpv4Checksum(tiny, 0);
  assert.equal(writeIcmpv4HostUnreachable(1, tiny, out), 28 + 24);
  // An original cut short by the caller (Total Length says more) is quoted as far as it goes.
  assert.equal(writeIcmpv4HostUnreachable(1, REASSEMBLED4.subarray(0, 100), out), 128);
  // A small output buffer shrinks the quote, but never below header + 8.
  assert.equal(writeIcmpv4HostUnreachable(1, REASSEMBLED4, out.subarray(0, 100)), 100);
  assert.equal(writeIcmpv4HostUnreachable(1, REASSEMBLED4, out.subarray(0, 56)), 56);
  assert.equal(writeIcmpv4HostUnreachable(1, REASSEMBLED4, out.subarray(0, 55)), 0);
  assert.equal(writeIcmpv4HostUnreachable(1, REASSEMBLED4, out, 1945), 0);
  // A larger maxLength is honoured.
  const spec = { src: 1, type: 3, code: 1, maxLength: 1500 };
  assert.equal(writeIcmpv4Error(spec, REASSEMBLED4, out), 28 + 1052);
  assert.equal(writeIcmpv4Error({ ...spec, maxLength: 40 }, REASSEMBLED4, out), 0);
  // Not IPv4, or a nonsensical header: nothing is written.
  assert.equal(writeIcmpv4HostUnreachable(1, new Uint8Array(40), out), 0);
  const badIhl = UDP4.slice();
  badIhl[0] = 0x44;
  assert.equal(writeIcmpv4HostUnreachable(1, badIhl, out), 0);
  const badTotal = UDP4.slice();
  badTotal[3] = 10;
  assert.equal(writeIcmpv4HostUnreachable(1, badTotal, out), 0);
  assert.equal(writeIcmpv4Error({ src: 1, type: 3, code: 256 }, UDP4, out), 0);
  assert.equal(writeIcmpv4Error({ src: -1, type: 3, code: 1 }, UDP4, out), 0);
});

test("inet: an ICMPv4 error can be built in place over the original", () => {
  const want = new Uint8Array(700);
  const n = writeIcmpv4TimeExceeded(0xc0000201, REASSEMBLED4, want);
  const buf = new Uint8Array(1200);
  buf.set(REASSEMBLED4);
  assert.equal(writeIcmpv4TimeExceeded(0xc0000201, buf.subarray(0, 1052), buf), n);
  assert.equal(toHex(buf.subarray(0, n)), toHex(want.subarray(0, n)));
  // And with the original a little after the output position.
  buf.fill(0);
  buf.set(REASSEMBLED4, 10);
  assert.equal(writeIcmpv4TimeExceeded(0xc0000201, buf.subarray(10, 1062), buf, 0), n);
  assert.equal(toHex(buf.subarray(0, n)), toHex(want.subarray(0, n)));
});

test("inet: icmpv4ErrorAllowed follows RFC 1812 §4.3.2.7", () => {
  const withAddrs = (src: string, dst: string) => {
    const b = UDP4.slice();
    b.set(hex(src), 12);
    b.set(hex(dst), 16);
    return b;
  };
  assert.equal(icmpv4ErrorAllowed(withAddrs("c0000201", "c6336401")), true);
  assert.equal(icmpv4ErrorAllowed(PING4_REQUEST), false); // loopback source
  assert.equal(icmpv4ErrorAllowed(withAddrs("00000000", "c6336401")), false);
  assert.equal(icmpv4ErrorAllowed(withAddrs("e0000001", "c6336401")), false);
  assert.equal(icmpv4ErrorAllowed(withAddrs("f0000001", "c6336401")), false);
  assert.equal(icmpv4ErrorAllowed(withAddrs("c0000201", "e00000fb")), false);
  assert.equal(icmpv4ErrorAllowed(withAddrs("c0000201", "ffffffff")), false);
  assert.equal(icmpv4ErrorAllowed(FRAG4_FIRST), true);
  assert.equal(icmpv4ErrorAllowed(FRAG4_LAST), false); // non-initial fragment
  // ICMP: queries may be answered with errors, errors may not.
  const echo = PING4_REQUEST.slice();
  echo.set(hex("c0000201"), 12);
  assert.equal(icmpv4ErrorAllowed(echo), true);
  const err = PORT_UNREACH4.slice();
  assert.equal(icmpv4ErrorAllowed(err), false);
  err.set(hex("c0000201"), 12);
  assert.equal(icmpv4ErrorAllowed(err), false);
  assert.equal(icmpv4ErrorAllowed(err.subarray(0, 20)), false); // cannot tell: refuse
  assert.equal(icmpv4ErrorAllowed(new Uint8Array(0)), false);
  assert.equal(icmpv4ErrorAllowed(hex("60000000")), false);
});

test("inet: ICMPv4 codecs work on subarray views and at offsets", () => {
  const v = shifted(PORT_UNREACH4.subarray(20), 5);
  const m = parseIcmpv4(v);
  assert.ok(m.ok);
  assert.equal(toHex(m.original!), toHex(UDP4));
  const big = new Uint8Array(400);
  const view = big.subarray(13, 300);
  const n = writeIcmpv4HostUnreachable(LO, shifted(UDP4, 3), view, 7);
  assert.equal(n, 66);
  assert.equal(checkIpv4(view, 7, n), null);
  assert.equal(ipv4Dst(view, 7), LO);
  assert.equal(ipv4Src(view, 7), LO);
  assert.ok(parseIcmpv4(big.subarray(20 + 20, 20 + n)).ok);
});

test("inet: parseIcmpv4 names truncated, bad-checksum and bad-quote", () => {
  assert.deepEqual(parseIcmpv4(new Uint8Array(7)), { ok: false, reason: "truncated" });
  const m = PING4_REQUEST.slice(20);
  m[9] ^= 0x10;
  assert.deepEqual(parseIcmpv4(m), { ok: false, reason: "bad-checksum" });
  assert.equal(parseIcmpv4(m, { verifyChecksum: false }).ok, true);
  // An error message whose body is not an IPv4 header.
  const bad = PORT_UNREACH4.slice(20, 40);
  bad[2] = 0;
  bad[3] = 0;
  const fix = (b: Uint8Array) => {
    b[2] = 0;
    b[3] = 0;
    const c = internetChecksum(b, 0, b.length);
    b[2] = c >> 8;
    b[3] = c & 0xff;
    return b;
  };
  assert.deepEqual(parseIcmpv4(fix(bad)), { ok: false, reason: "bad-quote" });
  const v6 = PORT_UNREACH4.slice(20);
  v6[8] = 0x65;
  assert.deepEqual(parseIcmpv4(fix(v6)), { ok: false, reason: "bad-quote" });
});

test("inet: ICMPv4 seeded random round trip (build error or echo, parse back)", () => {
  const rng = new Prng(792);
  const out = new Uint8Array(700);
  const orig = new Uint8Array(1200);
  for (let n = 0; n < 3000; n++) {
    if (rng.int(2) === 0) {
      const data = rng.bytes(rng.int(200));
      const spec = {
        reply: rng.int(2) === 0,
        identifier: rng.int(0x10000),
        sequence: rng.int(0x10000),
        data,
        src: rng.u32(),
        dst: rng.u32(),
      };
      const len = writeIcmpv4Echo(spec, out);
      assert.equal(len, 28 + data.length);
      const ip = parseIpv4(out.subarray(0, len));
      assert.ok(ip.ok);
      assert.deepEqual([ip.header.src, ip.header.dst], [spec.src, spec.dst]);
      const m = parseIcmpv4(ip.payload);
      assert.ok(m.ok);
      assert.deepEqual(
        [m.type, m.identifier, m.sequence, toHex(m.body)],
        [spec.reply ? 0 : 8, spec.identifier, spec.sequence, toHex(data)],
      );
    } else {
      const ihl = 5 + rng.int(11);
      const total = 4 * ihl + rng.int(1000);
      rng.fill(orig.subarray(0, total));
      orig[0] = 0x40 | ihl;
      orig[2] = total >> 8;
      orig[3] = total & 0xff;
      const spec = {
        src: rng.u32(),
        type: [3, 11, 12, 4, 5][rng.int(5)],
        code: rng.int(16),
        rest: rng.u32(),
      };
      const len = writeIcmpv4Error(spec, orig.subarray(0, total), out);
      assert.equal(len, Math.min(576, 28 + total));
      const ip = parseIpv4(out.subarray(0, len));
      assert.ok(ip.ok);
      assert.equal(ip.header.src, spec.src);
      assert.equal(ip.header.dst, ipv4Src(orig, 0));
      const m = parseIcmpv4(ip.payload);
      assert.ok(m.ok);
      assert.deepEqual([m.type, m.code, m.rest], [spec.type, spec.code, spec.rest]);
      assert.equal(toHex(m.original!), toHex(orig.subarray(0, len - 28)));
    }
  }
});

test("inet: ICMPv4 parser and builders never throw on 100k random or mutated inputs", () => {
  const rng = new Prng(0xbad1);
  const known = new Set<string>(ICMPV4_REASONS);
  const seeds = [
    PING4_REQUEST.subarray(20),
    PORT_UNREACH4.subarray(20),
    FRAG4_UNREACH.subarray(20, 120),
  ];
  const out = new Uint8Array(700);
  let ok = 0;
  forEachHostileInput(rng, seeds, 100_000, 100, (b) => {
    const r = parseIcmpv4(b, { verifyChecksum: (b.length & 1) === 0 });
    if (r.ok) ok++;
    else assert.ok(known.has(r.reason), r.reason);
  });
  assert.ok(ok > 1000, `only ${ok} valid inputs`);
  // The builders and the RFC 1812 filter take whatever is passed as the original.
  forEachHostileInput(rng, [UDP4, PING4_REQUEST, FRAG4_LAST.subarray(0, 80)], 20_000, 100, (b) => {
    icmpv4ErrorAllowed(b);
    const n = writeIcmpv4HostUnreachable(0xc0000201, b, out);
    if (n !== 0) {
      assert.equal(checkIpv4(out, 0, n), null);
      assert.ok(parseIcmpv4(out.subarray(20, n)).ok);
    }
  });
});
