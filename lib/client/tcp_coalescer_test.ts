import { test } from "node:test";
import assert from "node:assert/strict";
import { TcpCoalescer, VNET_HDR_LEN } from "./tcp_coalescer.ts";
import { internetChecksum, ipv4PseudoHeaderSum } from "../inet/checksum.ts";
import { IP_PROTO, writeIpv4Header } from "../inet/mod.ts";
import { Prng } from "../testing/prng.ts";

const SRC = 0xcb007105; // 203.0.113.5
const DST = 0xc6336407; // 198.51.100.7
const SLOT = 131072;

interface Seg {
  seq: number;
  payload: number;
  flags?: number;
  src?: number;
  sport?: number;
  ack?: number;
  tsval?: number;
  ttl?: number;
  badSum?: boolean;
  proto?: number;
}

/** Write an IPv4/TCP segment (12 bytes of timestamp option) into slot `i`; returns its length. */
function put(mem: Uint8Array, i: number, s: Seg, fill: number): number {
  const off = i * SLOT + 16;
  const thl = 32;
  const total = 20 + thl + s.payload;
  writeIpv4Header(
    {
      tos: 0,
      totalLength: total,
      identification: i,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: s.ttl ?? 64,
      protocol: s.proto ?? IP_PROTO.TCP,
      src: s.src ?? SRC,
      dst: DST,
    },
    mem,
    off,
  );
  const t = off + 20;
  const dv = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
  dv.setUint16(t, s.sport ?? 5201);
  dv.setUint16(t + 2, 40000);
  dv.setUint32(t + 4, s.seq >>> 0);
  dv.setUint32(t + 8, s.ack ?? 777);
  mem[t + 12] = (thl / 4) << 4;
  mem[t + 13] = s.flags ?? 0x10;
  dv.setUint16(t + 14, 500);
  dv.setUint16(t + 16, 0);
  dv.setUint16(t + 18, 0);
  mem.set([1, 1, 8, 10], t + 20);
  dv.setUint32(t + 24, s.tsval ?? 1000);
  dv.setUint32(t + 28, 2000);
  for (let k = 0; k < s.payload; k++) mem[t + thl + k] = (fill + k) & 0xff;
  const pseudo = ipv4PseudoHeaderSum(s.src ?? SRC, DST, IP_PROTO.TCP, thl + s.payload);
  let c = internetChecksum(mem, t, thl + s.payload, pseudo);
  if (s.badSum) c ^= 0x0101;
  dv.setUint16(t + 16, c);
  return total;
}

interface Written {
  vnet: Uint8Array;
  pkt: Uint8Array;
}

function setup() {
  const mem = new Uint8Array(SLOT * 8);
  const out: Written[] = [];
  const gro = new TcpCoalescer(mem, (off, len) => {
    out.push({
      vnet: mem.slice(off, off + VNET_HDR_LEN),
      pkt: mem.slice(off + VNET_HDR_LEN, off + len),
    });
  });
  const add = (i: number, s: Seg, fill = i * 10) => {
    const len = put(mem, i, s, fill);
    // A copy of what the segment was, to compare with what comes out.
    const copy = mem.slice(i * SLOT + 16, i * SLOT + 16 + len);
    gro.add(i * SLOT + 16, len);
    return copy;
  };
  return { mem, out, gro, add };
}

/** What the kernel does with a partial checksum: sum from csum_start, store at the offset. */
function complete(w: Written): Uint8Array {
  const p = w.pkt.slice();
  const start = w.vnet[6] | (w.vnet[7] << 8);
  const at = start + (w.vnet[8] | (w.vnet[9] << 8));
  const c = internetChecksum(p, start, p.length - start);
  p[at] = c >> 8;
  p[at + 1] = c & 0xff;
  return p;
}

function tcpOk(p: Uint8Array): boolean {
  const src = new DataView(p.buffer).getUint32(12);
  const dst = new DataView(p.buffer).getUint32(16);
  const pseudo = ipv4PseudoHeaderSum(src, dst, IP_PROTO.TCP, p.length - 20);
  return internetChecksum(p, 20, p.length - 20, pseudo) === 0 && internetChecksum(p, 0, 20) === 0;
}

test("tcp coalescer: in-order segments of one flow become one GSO write", () => {
  const t = setup();
  const segs = [0, 1, 2, 3].map((i) => t.add(i, { seq: 1_000_000 + i * 1448, payload: 1448 }));
  assert.equal(t.out.length, 0, "held until the end of the burst");
  t.gro.flush();
  assert.equal(t.out.length, 1);
  const w = t.out[0];
  assert.deepEqual([...w.vnet], [1, 1, 52, 0, 1448 & 0xff, 1448 >> 8, 20, 0, 16, 0]);
  assert.equal(w.pkt.length, 52 + 4 * 1448);
  assert.equal((w.pkt[2] << 8) | w.pkt[3], w.pkt.length);
  assert.deepEqual(w.pkt.subarray(20, 36), segs[0].subarray(20, 36), "first segment's header");
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(w.pkt.subarray(52 + i * 1448, 52 + (i + 1) * 1448), segs[i].subarray(52));
  }
  assert.ok(tcpOk(complete(w)), "the completed checksum is right");
  assert.equal(t.gro.merged, 3);
  assert.equal(t.gro.coalesced, 1);
});

test("tcp coalescer: a short last segment and a PSH end the packet", () => {
  const t = setup();
  t.add(0, { seq: 0, payload: 1000 });
  t.add(1, { seq: 1000, payload: 400 });
  t.add(2, { seq: 1400, payload: 400 }); // after a short one: a new packet
  t.add(3, { seq: 1800, payload: 400, flags: 0x18 }); // PSH: joined, then written
  assert.equal(t.out.length, 2);
  assert.equal(t.out[0].pkt.length, 52 + 1400);
  assert.equal(t.out[1].pkt.length, 52 + 800);
  assert.equal(t.out[1].pkt[33], 0x18, "PSH carried over");
  assert.ok(tcpOk(complete(t.out[0])));
  assert.ok(tcpOk(complete(t.out[1])));
  t.gro.flush();
  assert.equal(t.out.length, 2);
});

test("tcp coalescer: gaps, other flows, other acks, options and non-TCP are written alone in order", () => {
  const t = setup();
  const a = t.add(0, { seq: 0, payload: 500 });
  const b = t.add(1, { seq: 600, payload: 500 }); // a gap
  const c = t.add(2, { seq: 1100, payload: 500, sport: 1 }); // another flow
  const d = t.add(3, { seq: 1100, payload: 500, ack: 9 }); // ack differs from c's flow anyway
  const e = t.add(4, { seq: 1600, payload: 500, ack: 9, tsval: 5 }); // options differ
  const f = t.add(5, { seq: 2100, payload: 500, ack: 9, tsval: 5, ttl: 3 }); // TTL differs
  const g = t.add(6, { seq: 0, payload: 100, proto: IP_PROTO.UDP });
  t.gro.flush();
  assert.deepEqual(t.out.map((w) => w.pkt), [a, b, c, d, e, f, g]);
  for (const w of t.out) assert.deepEqual([...w.vnet], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(t.gro.merged, 0);
});

test("tcp coalescer: a segment with a wrong checksum is never joined", () => {
  const t = setup();
  const a = t.add(0, { seq: 0, payload: 500 });
  const b = t.add(1, { seq: 500, payload: 500, badSum: true });
  t.add(2, { seq: 1000, payload: 500 });
  t.add(3, { seq: 1500, payload: 500 });
  t.gro.flush();
  assert.equal(t.out.length, 3);
  assert.deepEqual(t.out[0].pkt, a);
  assert.deepEqual(t.out[1].pkt, b, "written alone, as it came: the kernel drops it");
  assert.equal(t.out[2].pkt.length, 52 + 1000);
  assert.equal(t.gro.badChecksums, 1);
  // A damaged first segment: written alone, the next one starts a packet.
  const u = setup();
  const x = u.add(0, { seq: 0, payload: 500, badSum: true });
  u.add(1, { seq: 500, payload: 500 });
  u.add(2, { seq: 1000, payload: 500 });
  u.gro.flush();
  assert.equal(u.out.length, 2);
  assert.deepEqual(u.out[0].pkt, x);
  assert.equal(u.out[1].pkt.length, 52 + 1000);
  assert.ok(tcpOk(complete(u.out[1])));
});

test("tcp coalescer: at most 65535 bytes; sequence numbers wrap", () => {
  const t = setup();
  for (let i = 0; i < 8; i++) t.add(i, { seq: 0xffff0000 + i * 9000, payload: 9000 });
  t.gro.flush();
  assert.equal(t.out.length, 2);
  assert.equal(t.out[0].pkt.length, 52 + 7 * 9000);
  assert.equal(t.out[1].pkt.length, 52 + 9000);
  assert.ok(tcpOk(complete(t.out[0])));
});

test("tcp coalescer: random bursts come out as the same byte stream", () => {
  const rng = new Prng(7);
  for (let round = 0; round < 20; round++) {
    const t = setup();
    const sent: number[] = [];
    let seq = rng.u32();
    for (let i = 0; i < 8; i++) {
      const payload = rng.int(3) === 0 ? 1 + rng.int(1448) : 1448;
      const flags = rng.int(6) === 0 ? 0x18 : 0x10;
      const copy = t.add(i, { seq, payload, flags }, rng.int(256));
      for (const x of copy.subarray(52)) sent.push(x);
      seq = (seq + payload) >>> 0;
    }
    t.gro.flush();
    const got: number[] = [];
    for (const w of t.out) {
      const p = w.vnet[0] === 1 ? complete(w) : w.pkt;
      assert.ok(tcpOk(p));
      for (const x of p.subarray(52)) got.push(x);
    }
    assert.deepEqual(got, sent);
  }
});
