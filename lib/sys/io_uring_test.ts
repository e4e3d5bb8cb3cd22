import { test } from "node:test";
import assert from "node:assert/strict";
import { IORING, IoUring } from "./io_uring.ts";
import { libc } from "./libc.ts";

function unavailable(): string | undefined {
  try {
    IoUring.open(libc(), 2).close();
    return undefined;
  } catch (e) {
    return `io_uring is not available here: ${(e as Error).message}`;
  }
}
const SKIP = unavailable();

test("sys io_uring: requests complete with their user data, in order", { skip: SKIP }, () => {
  const ring = IoUring.open(libc(), 8);
  try {
    assert.equal(ring.entries, 8);
    for (let i = 0; i < 3; i++) {
      assert.equal(ring.prep(IORING.OP_NOP, -1, 0, 0, 0xfffffff0 + i), true);
    }
    assert.equal(ring.queued, 3);
    assert.equal(ring.submitAndWait(), 3);
    assert.equal(ring.queued, 0);
    assert.equal(ring.ready, 3);
    assert.deepEqual([0, 1, 2].map((i) => ring.userData(i)), [0xfffffff0, 0xfffffff1, 0xfffffff2]);
    assert.deepEqual([0, 1, 2].map((i) => ring.result(i)), [0, 0, 0]);
    ring.consume(3);
    assert.equal(ring.ready, 0);
    assert.equal(ring.submitAndWait(), 0, "nothing queued");
  } finally {
    ring.close();
  }
});

test("sys io_uring: a full submission queue refuses more", { skip: SKIP }, () => {
  const ring = IoUring.open(libc(), 2);
  try {
    assert.equal(ring.prep(IORING.OP_NOP, -1, 0, 0, 1), true);
    assert.equal(ring.prep(IORING.OP_NOP, -1, 0, 0, 2), true);
    assert.equal(ring.prep(IORING.OP_NOP, -1, 0, 0, 3), false);
    assert.equal(ring.submitAndWait(), 2);
    ring.consume(ring.ready);
  } finally {
    ring.close();
    ring.close(); // idempotent
  }
});
