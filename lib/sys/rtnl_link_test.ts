import { test } from "node:test";
import assert from "node:assert/strict";
import golden from "./testdata/rtnetlink_golden.json" with { type: "json" };
import { fromHex, seqOf, toHex } from "./testdata/hex.ts";
import { parseNetlinkMessages } from "./netlink_message.ts";
import { RTM } from "./netlink_constants.ts";
import {
  parseLink,
  writeLinkDelete,
  writeLinkDump,
  writeLinkGet,
  writeLinkSet,
} from "./rtnl_link.ts";
import { Prng } from "../testing/prng.ts";

const idx = golden.ifindex as Record<string, number>;

function encode(hex: string, f: (out: Uint8Array, seq: number) => number): string {
  const out = new Uint8Array(256);
  const n = f(out, seqOf(fromHex(hex)));
  return toHex(out.subarray(0, n));
}

test("rtnl link: set up matches ip link set up", () => {
  const g = golden.link_up.hex;
  assert.equal(encode(g, (o, s) => writeLinkSet(o, s, idx.tun0, { up: true })), g);
});

test("rtnl link: set down matches ip link set down", () => {
  const g = golden.link_down.hex;
  assert.equal(encode(g, (o, s) => writeLinkSet(o, s, idx.vb, { up: false })), g);
});

test("rtnl link: set mtu matches ip link set mtu", () => {
  const g = golden.link_mtu.hex;
  assert.equal(encode(g, (o, s) => writeLinkSet(o, s, idx.tun0, { mtu: 1400 })), g);
});

test("rtnl link: delete matches ip link del", () => {
  const g = golden.link_delete.hex;
  assert.equal(encode(g, (o, s) => writeLinkDelete(o, s, idx.va)), g);
});

test("rtnl link: get by name and dump requests", () => {
  const out = new Uint8Array(256);
  const n = writeLinkGet(out, 7, "tun0");
  const m = parseNetlinkMessages(out.subarray(0, n));
  assert.ok(m.ok);
  assert.equal(m.messages.length, 1);
  assert.equal(m.messages[0].type, RTM.GETLINK);
  assert.equal(m.messages[0].flags, 0x05);
  assert.equal(m.messages[0].seq, 7);
  // ifinfomsg, IFLA_EXT_MASK = VF|SKIP_STATS, IFLA_IFNAME "tun0\0" padded
  assert.equal(
    toHex(m.messages[0].payload),
    "00000000000000000000000000000000" + "08001d0009000000" + "0900030074756e3000000000",
  );
  const d = writeLinkDump(out, 8);
  const dm = parseNetlinkMessages(out.subarray(0, d));
  assert.ok(dm.ok);
  assert.equal(dm.messages[0].flags, 0x301);
});

test("rtnl link: writers return 0 when the buffer is too small", () => {
  assert.equal(writeLinkSet(new Uint8Array(20), 1, 2, { up: true, mtu: 1400 }), 0);
  assert.equal(writeLinkGet(new Uint8Array(40), 1, "tun0"), 0);
});

test("rtnl link: decodes the kernel's RTM_NEWLINK for a TUN", () => {
  const bytes = fromHex(golden.answer_link_tun0.hex[1]);
  const m = parseNetlinkMessages(bytes);
  assert.ok(m.ok);
  assert.equal(m.messages[0].type, RTM.NEWLINK);
  const r = parseLink(m.messages[0].payload);
  assert.ok(r.ok);
  assert.deepEqual(r.link, {
    index: idx.tun0,
    name: "tun0",
    flags: r.link.flags,
    up: true,
    mtu: 1400,
    linkType: 65534,
    kind: "tun",
    operState: "DOWN",
  });
  assert.equal(r.link.flags & 0x1, 1);
});

test("rtnl link: decoding a subarray gives the same link", () => {
  const bytes = fromHex(golden.answer_link_tun0.hex[1]);
  const padded = new Uint8Array(bytes.length + 5);
  padded.set(bytes, 5);
  const m = parseNetlinkMessages(padded.subarray(5));
  assert.ok(m.ok);
  const r = parseLink(m.messages[0].payload);
  assert.ok(r.ok);
  assert.equal(r.link.name, "tun0");
});

test("rtnl link: truncated and random payloads never throw", () => {
  const bytes = fromHex(golden.answer_link_tun0.hex[1]).subarray(16);
  for (let n = 0; n < bytes.length; n += 7) parseLink(bytes.subarray(0, n));
  assert.deepEqual(parseLink(bytes.subarray(0, 10)), { ok: false, reason: "truncated" });
  const rng = new Prng(0x5eed);
  for (let i = 0; i < 2000; i++) parseLink(rng.bytes(rng.int(200)));
});
