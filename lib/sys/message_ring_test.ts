import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageRing } from "./message_ring.ts";
import { StopSignal } from "./stop_signal.ts";
import { Prng } from "../testing/prng.ts";

test("message ring: FIFO with wrap-around matches a model queue", () => {
  const ring = MessageRing.create(256, false);
  const reader = MessageRing.attach(ring.init);
  const rng = new Prng(7);
  const model: Uint8Array[] = [];
  const out = new Uint8Array(256);
  for (let step = 0; step < 20000; step++) {
    if (rng.int(2) === 0) {
      const msg = rng.bytes(rng.int(60));
      if (ring.push(msg)) model.push(msg);
      else assert.ok(model.length > 0, "a push into an empty ring must succeed");
    } else {
      const n = reader.pop(out);
      const want = model.shift();
      if (!want) assert.equal(n, -1);
      else assert.deepEqual(out.subarray(0, n), want);
    }
  }
});

test("message ring: full ring refuses, frees after pops, rejects oversized messages", () => {
  const ring = MessageRing.create(64, false);
  let pushed = 0;
  while (ring.push(new Uint8Array(10))) pushed++;
  assert.equal(pushed, 5, "five 12-byte records fit 64 bytes with the 4-byte gap");
  const out = new Uint8Array(64);
  assert.equal(ring.pop(out), 10);
  // 4 bytes at the end plus 12 at the start are free, but a record never splits and the writer
  // keeps a 4-byte gap: still no room until a second pop.
  assert.equal(ring.push(new Uint8Array(10)), false);
  assert.equal(ring.pop(out), 10);
  assert.equal(ring.push(new Uint8Array(10)), true);
  for (let i = 0; i < 4; i++) assert.equal(ring.pop(out), 10);
  assert.equal(ring.pop(out), -1);
  assert.throws(() => ring.push(new Uint8Array(70000)), RangeError);
  assert.throws(() => MessageRing.create(63), RangeError);
});

test("message ring: a Worker blocked in poll is woken by pushes and can post back", async () => {
  const ring = MessageRing.create(1 << 16);
  const stop = StopSignal.create();
  const worker = new Worker(new URL("./testdata/ring_worker.ts", import.meta.url), {
    type: "module",
  });
  const progress: number[] = [];
  const done = new Promise<{ count: number; sum: number }>((resolve) => {
    worker.onmessage = (e: MessageEvent) => {
      if (e.data.kind === "progress") progress.push(e.data.count);
      else resolve(e.data);
    };
  });
  worker.postMessage({ ring: ring.init, stop: stop.init });
  let sent = 0;
  let sum = 0;
  const msg = new Uint8Array(24);
  while (sent < 5000) {
    msg.fill(sent & 0xff);
    if (ring.push(msg)) {
      sent++;
      sum += ((sent - 1) & 0xff) * 24;
    } else await new Promise((r) => setTimeout(r, 1));
  }
  // Wait until the worker drained everything (it reports every 1000), then stop it.
  const deadline = Date.now() + 10000;
  while (progress.at(-1) !== 5000 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  stop.stop();
  const result = await done;
  worker.terminate();
  ring.close();
  stop.close();
  assert.deepEqual(result, { kind: "done", count: 5000, sum });
});
