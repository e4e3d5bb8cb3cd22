import { test } from "node:test";
import assert from "node:assert/strict";
import golden from "./testdata/rtnetlink_golden.json" with { type: "json" };
import { fromHex, seqOf, toHex } from "./testdata/hex.ts";
import { parseIpv4, parseIpv6 } from "./ip_text.ts";
import { IFA_F, RTM } from "./netlink_constants.ts";
import { parseNetlinkMessages } from "./netlink_message.ts";
import {
  type AddressRequest,
  parseAddress,
  writeAddressChange,
  writeAddressDump,
} from "./rtnl_address.ts";
import { Prng } from "../testing/prng.ts";

const idx = golden.ifindex as Record<string, number>;

function encode(hex: string, op: "add" | "delete", req: AddressRequest): string {
  const out = new Uint8Array(256);
  const n = writeAddressChange(out, seqOf(fromHex(hex)), op, req);
  return toHex(out.subarray(0, n));
}

test("rtnl address: IPv4 add matches ip addr add", () => {
  const g = golden.addr_add4.hex;
  const req = { index: idx.tun0, local: parseIpv4("10.0.0.1")!, prefixLength: 24 };
  assert.equal(encode(g, "add", req), g);
});

test("rtnl address: IPv4 point-to-point add and delete match ip addr add/del peer", () => {
  const req = {
    index: idx.tun0,
    local: parseIpv4("10.9.0.1")!,
    peer: parseIpv4("10.9.0.2")!,
    prefixLength: 32,
  };
  assert.equal(encode(golden.addr_add4_peer.hex, "add", req), golden.addr_add4_peer.hex);
  assert.equal(encode(golden.addr_delete4.hex, "delete", req), golden.addr_delete4.hex);
});

test("rtnl address: IPv6 add with nodad matches ip -6 addr add nodad", () => {
  const g = golden.addr_add6_nodad.hex;
  const req = {
    index: idx.tun0,
    local: parseIpv6("2001:db8::1")!,
    prefixLength: 64,
    flags: IFA_F.NODAD,
  };
  assert.equal(encode(g, "add", req), g);
});

test("rtnl address: flags above 8 bits go in IFA_FLAGS", () => {
  const out = new Uint8Array(256);
  const n = writeAddressChange(out, 1, "add", {
    index: 2,
    local: parseIpv6("2001:db8::1")!,
    prefixLength: 64,
    flags: IFA_F.NODAD | IFA_F.NOPREFIXROUTE,
  });
  const m = parseNetlinkMessages(out.subarray(0, n));
  assert.ok(m.ok);
  assert.equal(m.messages[0].payload[2], IFA_F.NODAD);
  assert.equal(toHex(m.messages[0].payload.subarray(48)), "0800080002020000");
});

test("rtnl address: dump request", () => {
  const out = new Uint8Array(64);
  const n = writeAddressDump(out, 3, 6);
  assert.equal(toHex(out.subarray(0, n)), "18000000160001030300000000000000" + "0a00000000000000");
  assert.equal(writeAddressDump(new Uint8Array(20), 3, 4), 0);
});

test("rtnl address: decodes the kernel's RTM_NEWADDR", () => {
  const replies = golden.answer_addr_dump4.hex.map(fromHex);
  const msgs = replies.flatMap((r) => {
    const m = parseNetlinkMessages(r);
    assert.ok(m.ok);
    return m.messages;
  });
  const addrs = msgs.filter((m) => m.type === RTM.NEWADDR).map((m) => parseAddress(m.payload));
  assert.equal(addrs.length, 1);
  assert.ok(addrs[0].ok);
  assert.deepEqual(addrs[0].address, {
    index: idx.tun0,
    family: 4,
    address: "10.0.0.1",
    prefixLength: 24,
    peer: undefined,
    label: "tun0",
    scope: 0,
    flags: 0x80,
  });
});

test("rtnl address: truncated and random payloads never throw", () => {
  const msg = parseNetlinkMessages(fromHex(golden.answer_addr_dump4.hex[1]));
  assert.ok(msg.ok);
  const p = msg.messages[0].payload;
  for (let n = 0; n < p.length; n++) parseAddress(p.subarray(0, n));
  assert.deepEqual(parseAddress(p.subarray(0, 4)), { ok: false, reason: "truncated" });
  const rng = new Prng(42);
  for (let i = 0; i < 2000; i++) parseAddress(rng.bytes(rng.int(120)));
});
