import { test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeCommand,
  encodeFrame,
  encodeLine,
  encodeLineBytes,
  encodeReply,
  writeFrame,
} from "./frame_writer.ts";

const dec = new TextDecoder();

test("frame writer: lines end in CR LF; CR/LF inside refused", () => {
  assert.equal(dec.decode(encodeLine("VERSION=2.0.0")), "VERSION=2.0.0\r\n");
  assert.throws(() => encodeLine("a\nb"), TypeError);
  assert.deepEqual(Array.from(encodeLineBytes(Uint8Array.of(0, 117, 0, 112))), [
    0,
    117,
    0,
    112,
    13,
    10,
  ]);
});

test("frame writer: command N covers the XML and the final CR LF (the draft's 35)", () => {
  assert.equal(
    dec.decode(encodeCommand('<tunnel action="accept"></tunnel>')),
    'Content-length: 35\r\n<tunnel action="accept"></tunnel>\r\n',
  );
});

test("frame writer: reply N covers status line, XML and both CR LF; status-only replies", () => {
  assert.equal(
    dec.decode(encodeReply(308)),
    "Content-length: 35\r\n308 Requested Address Unavailable\r\n",
  );
  assert.equal(
    dec.decode(encodeReply(200, "OK", "<x/>")),
    "Content-length: 14\r\n200 OK\r\n<x/>\r\n",
  );
  assert.throws(() => encodeReply(42), RangeError);
});

test("frame writer: N counts UTF-8 bytes", () => {
  assert.equal(dec.decode(encodeFrame("é")), "Content-length: 2\r\né");
});

test("frame writer: writeFrame into a caller buffer, at an offset, or 0 when it does not fit", () => {
  const body = new TextEncoder().encode("abc");
  const out = new Uint8Array(40);
  const n = writeFrame(body, out, 2);
  assert.equal(n, 22);
  assert.equal(dec.decode(out.subarray(2, 2 + n)), "Content-length: 3\r\nabc");
  const small = new Uint8Array(21);
  assert.equal(writeFrame(body, small), 0);
  assert.deepEqual(Array.from(small), new Array(21).fill(0));
  assert.equal(writeFrame(body, out, -1), 0);
  // A subarray view is written through its own offset.
  const big = new Uint8Array(64);
  const view = big.subarray(10, 40);
  assert.equal(writeFrame(body, view), 22);
  assert.equal(dec.decode(big.subarray(10, 32)), "Content-length: 3\r\nabc");
});
