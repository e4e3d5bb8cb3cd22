import { test } from "node:test";
import assert from "node:assert/strict";
import golden from "./testdata/rtnetlink_golden.json" with { type: "json" };
import { fromHex, toHex } from "./testdata/hex.ts";
import { NL } from "./netlink_constants.ts";
import {
  attrString,
  attrU32,
  NetlinkWriter,
  nlAlign,
  parseAttributes,
  parseNetlinkAck,
  parseNetlinkMessages,
} from "./netlink_message.ts";
import { Prng } from "../testing/prng.ts";

test("netlink message: writer builds header, padded and nested attributes", () => {
  const out = new Uint8Array(64);
  const w = new NetlinkWriter(out).begin(16, NL.F_REQUEST | NL.F_ACK, 0x01020304, 5);
  w.u32(0xaabbccdd);
  w.attr(3, new Uint8Array([1, 2, 3]));
  const at = w.beginNested(18);
  w.attrString(1, "tun");
  w.endNested(at);
  const n = w.finish();
  assert.equal(n, 16 + 4 + 8 + 4 + 8);
  assert.equal(
    toHex(out.subarray(0, n)),
    "28000000100005000403020105000000" + "ddccbbaa" + "0700030001020300" + "0c001280" +
      "0800010074756e00",
  );
});

test("netlink message: writer reports overflow with 0, never throws", () => {
  const w = new NetlinkWriter(new Uint8Array(20)).begin(16, 1, 1);
  w.attrU32(4, 1500).attrString(3, "a-long-interface-name");
  assert.equal(w.finish(), 0);
  assert.equal(new NetlinkWriter(new Uint8Array(8)).begin(16, 1, 1).finish(), 0);
  assert.equal(nlAlign(5), 8);
  assert.equal(nlAlign(8), 8);
});

test("netlink message: parses several messages from one datagram", () => {
  const replies = golden.answer_addr_dump4.hex.map(fromHex);
  const both = new Uint8Array(replies[1].length + replies[2].length);
  both.set(replies[1]);
  both.set(replies[2], replies[1].length);
  const r = parseNetlinkMessages(both);
  assert.ok(r.ok);
  assert.deepEqual(r.messages.map((m) => m.type), [20, NL.NLMSG_DONE]);
  assert.equal(r.messages[0].payload.length, replies[1].length - 16);
});

test("netlink message: bad lengths and truncation", () => {
  const ok = fromHex(golden.answer_addr_dump4.hex[1]);
  assert.deepEqual(parseNetlinkMessages(ok.subarray(0, 10)), { ok: false, reason: "truncated" });
  assert.deepEqual(parseNetlinkMessages(ok.subarray(0, ok.length - 1)), {
    ok: false,
    reason: "truncated",
  });
  const bad = ok.slice();
  bad[0] = 8;
  bad[1] = bad[2] = bad[3] = 0;
  assert.deepEqual(parseNetlinkMessages(bad), { ok: false, reason: "bad-length" });
  assert.deepEqual(parseAttributes(new Uint8Array([2, 0, 1, 0])), {
    ok: false,
    reason: "bad-length",
  });
  assert.deepEqual(parseAttributes(new Uint8Array([9, 0, 1, 0, 1])), {
    ok: false,
    reason: "truncated",
  });
  assert.equal(attrU32(new Uint8Array(2)), undefined);
  assert.equal(attrString(undefined), undefined);
});

test("netlink message: decodes the kernel's EEXIST ack with its extended-ack text", () => {
  const r = parseNetlinkMessages(fromHex(golden.answer_error_eexist.hex[0]));
  assert.ok(r.ok);
  const err = r.messages.find((m) => m.type === NL.NLMSG_ERROR)!;
  const ack = parseNetlinkAck(err);
  assert.ok(ack.ok);
  assert.equal(ack.ack.errno, 17);
  assert.equal(ack.ack.message, "ipv4: Address already assigned");
  assert.equal(ack.ack.requestSeq, err.seq);
});

test("netlink message: a success ack and a short ack", () => {
  const out = new Uint8Array(64);
  const w = new NetlinkWriter(out).begin(NL.NLMSG_ERROR, 0, 9);
  w.u32(0).u32(16).u16(20).u16(5).u32(9).u32(0);
  const n = w.finish();
  const m = parseNetlinkMessages(out.subarray(0, n));
  assert.ok(m.ok);
  assert.deepEqual(parseNetlinkAck(m.messages[0]), {
    ok: true,
    ack: { errno: 0, requestSeq: 9, message: undefined },
  });
  const short = { ...m.messages[0], payload: m.messages[0].payload.subarray(0, 10) };
  assert.deepEqual(parseNetlinkAck(short), { ok: false, reason: "truncated" });
});

test("netlink message: random bytes never throw", () => {
  const rng = new Prng(1234);
  for (let i = 0; i < 3000; i++) {
    const b = rng.bytes(rng.int(100));
    const r = parseNetlinkMessages(b);
    if (r.ok) { for (const m of r.messages) parseNetlinkAck({ ...m, flags: rng.int(0x400) }); }
    parseAttributes(b);
  }
});
