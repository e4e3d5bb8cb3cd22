import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseTep, renewalTep, type TepCandidate } from "./tep_select.ts";

const c = (name: string, live: boolean, load: number): TepCandidate => ({ name, live, load });

test("tep select: least-loaded live TEP, ties to the first listed", () => {
  assert.deepEqual(chooseTep([c("a", true, 3), c("b", true, 1), c("c", true, 1)]), {
    name: "b",
    fallback: false,
  });
  assert.deepEqual(chooseTep([c("a", false, 0), c("b", true, 9)]), { name: "b", fallback: false });
});

test("tep select: no live TEP falls back to the least-loaded configured one", () => {
  assert.deepEqual(chooseTep([c("a", false, 5), c("b", false, 2)]), { name: "b", fallback: true });
  assert.equal(chooseTep([]), undefined);
});

test("tep select: renewal keeps a live TEP and a down TEP when nobody is live", () => {
  assert.deepEqual(renewalTep("a", [c("a", true, 5), c("b", true, 0)]), { kind: "keep" });
  assert.deepEqual(renewalTep("a", [c("a", false, 5), c("b", false, 0)]), { kind: "keep" });
});

test("tep select: renewal moves a lease off a down TEP to the least-loaded live one", () => {
  assert.deepEqual(renewalTep("a", [c("a", false, 5), c("b", true, 4), c("c", true, 2)]), {
    kind: "move",
    to: "c",
    reason: "tep-down",
    fallback: false,
  });
});

test("tep select: renewal moves a lease off a TEP that is no longer configured", () => {
  assert.deepEqual(renewalTep("gone", [c("a", false, 1), c("b", true, 4)]), {
    kind: "move",
    to: "b",
    reason: "tep-removed",
    fallback: false,
  });
  assert.deepEqual(renewalTep("gone", [c("a", false, 3), c("b", false, 1)]), {
    kind: "move",
    to: "b",
    reason: "tep-removed",
    fallback: true,
  });
  assert.deepEqual(renewalTep("gone", []), { kind: "keep" });
});

test("tep select: right after a restart a renewal keeps a TEP that has not reconnected yet", () => {
  const cands = [
    { name: "tep1", live: false, awaited: true, load: 5 },
    { name: "tep2", live: true, load: 0 },
  ];
  assert.deepEqual(renewalTep("tep1", cands), { kind: "keep" });
  // Once the grace is over (awaited false), the lease moves.
  cands[0] = { name: "tep1", live: false, awaited: false, load: 5 };
  assert.deepEqual(renewalTep("tep1", cands), {
    kind: "move",
    to: "tep2",
    reason: "tep-down",
    fallback: false,
  });
});
