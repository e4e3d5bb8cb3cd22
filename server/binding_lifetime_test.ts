import { test } from "node:test";
import assert from "node:assert/strict";
import { bindingMinutes, leaseMinutes, MINUTE_MS } from "./binding_lifetime.ts";

test("binding lifetime: lease minutes round up, at least 1", () => {
  assert.equal(leaseMinutes(1440 * MINUTE_MS), 1440);
  assert.equal(leaseMinutes(2000), 1);
  assert.equal(leaseMinutes(61_000), 2);
});

test("binding lifetime: remaining lease rounded up, capped, 0 once ended", () => {
  const now = 1_000_000;
  assert.equal(bindingMinutes(now + 90 * MINUTE_MS, now, 15), 15);
  assert.equal(bindingMinutes(now + 10 * MINUTE_MS + 1, now, 15), 11);
  assert.equal(bindingMinutes(now + 1, now, 15), 1);
  assert.equal(bindingMinutes(now, now, 15), 0);
  assert.equal(bindingMinutes(now - 5, now, 15), 0);
});
