import { test } from "node:test";
import assert from "node:assert/strict";
import { BACKOFF_JITTER, reconnectDelay } from "./backoff.ts";

test("tep backoff: 1 s doubling to 30 s", () => {
  const seq = Array.from({ length: 8 }, (_, i) => reconnectDelay(i, 0));
  assert.deepEqual(seq, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(reconnectDelay(1e9, 0), 30000);
  assert.equal(reconnectDelay(-3, 0), 1000);
});

test("tep backoff: jitter only shortens, by at most 20 %", () => {
  for (const r of [0, 0.25, 0.5, 0.999]) {
    const d = reconnectDelay(3, r);
    assert.ok(d <= 8000 && d >= 8000 * (1 - BACKOFF_JITTER), `${r}: ${d}`);
  }
  assert.equal(reconnectDelay(0, 0.5, { initialMs: 100, maxMs: 150 }), 90);
  assert.equal(reconnectDelay(0, Number.NaN), 1000);
});
