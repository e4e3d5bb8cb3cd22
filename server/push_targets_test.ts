import { test } from "node:test";
import assert from "node:assert/strict";
import { removalTargets } from "./push_targets.ts";

test("push targets: assigned TEP first, then every TEP that queried, once each", () => {
  assert.deepEqual(removalTargets({ tep: "a", tepsThatQueried: new Set(["b", "a", "c"]) }), [
    "a",
    "b",
    "c",
  ]);
  assert.deepEqual(removalTargets({ tep: "a", tepsThatQueried: [] }), ["a"]);
});
