import { test } from "node:test";
import assert from "node:assert/strict";
import { ViewCache } from "./view_cache.ts";

test("tep view cache: one view per buffer and offset, reused", () => {
  const c = new ViewCache();
  const a = new Uint8Array(100);
  const b = new Uint8Array(100);
  assert.equal(c.view(a, 0), a);
  const v = c.view(a, 8);
  assert.equal(v.byteOffset, 8);
  assert.equal(v.length, 92);
  assert.equal(c.view(a, 8), v);
  assert.notEqual(c.view(b, 8), v);
  assert.equal(c.size, 2);
});
