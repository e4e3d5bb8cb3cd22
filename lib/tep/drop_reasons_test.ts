import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DROP_REASON_COUNT,
  DROP_REASON_ID,
  DROP_REASONS,
  DropCounters,
  type DropReason,
  dropReasonHelp,
  isDropReason,
} from "./drop_reasons.ts";

const REQUIRED: DropReason[] = [
  "not-to-tunnel-address",
  "not-ipip",
  "outside-client-prefix",
  "no-binding",
  "spoofed-source",
  "binding-expired",
  "ipv6-multicast",
  "ttl-exceeded",
  "too-big-df",
  "malformed-ipv6",
  "malformed-ipv4",
  "fragment-reassembly-timeout",
  "fragment-overlap",
  "fragment-memory",
  "icmp-rate-limited",
  "hairpin-disabled",
  "loop",
  "query-failed",
  "query-refused",
  "query-timeout",
  "outside-pool",
  "negative-cached",
  "rate-limited-source",
  "rate-limited-global",
  "query-table-full",
  "queue-full",
  "queue-memory",
  "queue-packet-too-big",
  "queue-timeout",
];

test("tep drop reasons: the table holds every reason once, kebab-case, with one-line help", () => {
  const names = DROP_REASONS.map((r) => r.name);
  assert.equal(new Set(names).size, names.length);
  assert.equal(DROP_REASON_COUNT, names.length);
  for (const r of REQUIRED) assert.ok(isDropReason(r), r);
  for (const { name, help } of DROP_REASONS) {
    assert.match(name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    assert.ok(help.length > 10 && !help.includes("\n"), name);
    assert.equal(dropReasonHelp(name), help);
  }
  assert.ok(!isDropReason("nope"));
  assert.ok(!isDropReason(3));
  assert.throws(() => dropReasonHelp("nope" as DropReason), RangeError);
});

test("tep drop reasons: ids follow table order and are frozen", () => {
  DROP_REASONS.forEach((r, i) => assert.equal(DROP_REASON_ID[r.name], i));
  assert.ok(Object.isFrozen(DROP_REASON_ID));
});

test("tep drop reasons: counters count by id and by name, snapshot and sum", () => {
  const c = new DropCounters();
  c.inc(DROP_REASON_ID["spoofed-source"]);
  c.count("spoofed-source");
  c.add(DROP_REASON_ID["queue-full"], 5);
  c.count("loop", 2);
  assert.equal(c.get("spoofed-source"), 2);
  assert.equal(c.get("queue-full"), 5);
  assert.equal(c.total(), 9);
  const snap = c.snapshot();
  assert.equal(Object.keys(snap).length, DROP_REASON_COUNT);
  assert.equal(snap.loop, 2);
  assert.equal(snap["no-binding"], 0);
  const sum = new DropCounters();
  sum.addAll(c);
  sum.addAll(c);
  assert.equal(sum.get("queue-full"), 10);
  c.reset();
  assert.equal(c.total(), 0);
});

test("tep drop reasons: counters share a SharedArrayBuffer, one region per writer", () => {
  const sab = new SharedArrayBuffer(2 * DropCounters.BYTES);
  const lane0 = new DropCounters(sab, 0);
  const lane1 = new DropCounters(sab, DropCounters.BYTES);
  lane0.count("no-binding", 3);
  lane1.count("no-binding", 4);
  // A reader opening the same regions sees the writers' counts.
  const r0 = new DropCounters(sab, 0);
  const r1 = new DropCounters(sab, DropCounters.BYTES);
  assert.equal(r0.get("no-binding"), 3);
  assert.equal(r1.get("no-binding"), 4);
  const total = new DropCounters();
  total.addAll(r0);
  total.addAll(r1);
  assert.equal(total.get("no-binding"), 7);
  assert.equal(DropCounters.BYTES, DROP_REASON_COUNT * 8);
  assert.throws(() => new DropCounters(sab, 4), RangeError);
  assert.throws(() => new DropCounters(sab, DropCounters.BYTES + 8), RangeError);
  assert.throws(() => new DropCounters(new ArrayBuffer(8)), RangeError);
});
