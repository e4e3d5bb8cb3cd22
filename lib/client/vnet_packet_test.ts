import { test } from "node:test";
import assert from "node:assert/strict";
import { readVnetPacket, VNET_HEADER_LENGTH } from "./vnet_packet.ts";
import { internetChecksum, ipv4PseudoHeaderSum } from "../inet/checksum.ts";
import { IP_PROTO, writeIpv4Header } from "../inet/mod.ts";

/** A read: virtio header then an IPv4/UDP packet of `payload` bytes whose checksum is partial. */
function partialUdp(payload: number): { buf: Uint8Array; len: number; full: number } {
  const total = 28 + payload;
  const buf = new Uint8Array(VNET_HEADER_LENGTH + total + 4);
  const p = VNET_HEADER_LENGTH;
  writeIpv4Header(
    {
      tos: 0,
      totalLength: total,
      identification: 1,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IP_PROTO.UDP,
      src: 0xc6336407,
      dst: 0xcb007105,
    },
    buf,
    p,
  );
  const dv = new DataView(buf.buffer);
  dv.setUint16(p + 20, 5000);
  dv.setUint16(p + 22, 53);
  dv.setUint16(p + 24, 8 + payload);
  for (let i = 0; i < payload; i++) buf[p + 28 + i] = (i * 13) & 0xff;
  const pseudo = ipv4PseudoHeaderSum(0xc6336407, 0xcb007105, IP_PROTO.UDP, 8 + payload);
  const full = internetChecksum(buf, p + 20, 8 + payload, pseudo);
  dv.setUint16(p + 26, pseudo); // what the kernel leaves: the pseudo-header sum
  buf[0] = 1; // NEEDS_CSUM
  dv.setUint16(6, 20, true); // csum_start
  dv.setUint16(8, 6, true); // csum_offset
  return { buf, len: VNET_HEADER_LENGTH + total, full };
}

test("vnet packet: a partial checksum is completed to the full one", () => {
  for (const payload of [0, 1, 2, 3, 100, 1471]) {
    const r = partialUdp(payload);
    assert.equal(readVnetPacket(r.buf, 0, r.len), r.len - VNET_HEADER_LENGTH);
    const got = (r.buf[VNET_HEADER_LENGTH + 26] << 8) | r.buf[VNET_HEADER_LENGTH + 27];
    assert.equal(got, r.full, `payload ${payload}`);
  }
});

test("vnet packet: an empty header passes the packet as it is", () => {
  const r = partialUdp(40);
  r.buf[0] = 0;
  const before = r.buf.slice();
  assert.equal(readVnetPacket(r.buf, 0, r.len), r.len - VNET_HEADER_LENGTH);
  assert.deepEqual(r.buf, before);
});

test("vnet packet: GSO, short reads and a checksum outside the packet give 0", () => {
  const r = partialUdp(40);
  assert.equal(readVnetPacket(r.buf, 0, VNET_HEADER_LENGTH), 0);
  assert.equal(readVnetPacket(r.buf, 0, 4), 0);
  assert.equal(readVnetPacket(r.buf, 0, r.buf.length + 1), 0);
  r.buf[1] = 1; // GSO_TCPV4
  assert.equal(readVnetPacket(r.buf, 0, r.len), 0);
  r.buf[1] = 0;
  new DataView(r.buf.buffer).setUint16(6, 200, true);
  assert.equal(readVnetPacket(r.buf, 0, r.len), 0);
});
