import { test } from "node:test";
import assert from "node:assert/strict";
import { ReadProgress } from "./read_progress.ts";

const b = (s: string) => new TextEncoder().encode(s);

test("read progress: lines are partial until LF; NULs between lines start nothing", () => {
  const p = new ReadProgress("line");
  p.feed(b("VERSION=2.0"), 10);
  assert.equal(p.partialSince, 10);
  p.feed(b(".0\r\n"), 20);
  assert.equal(p.partialSince, null);
  p.feed(b("\0\0\0"), 30);
  assert.equal(p.partialSince, null);
  p.feed(b("AUTH"), 40);
  p.feed(b("ENT"), 50);
  assert.equal(p.partialSince, 40);
});

test("read progress: a frame is partial from its header to its last byte", () => {
  const p = new ReadProgress("frame");
  p.feed(b("\r\nContent-length: 5\r\n"), 1);
  assert.equal(p.partialSince, 1);
  p.feed(b("abc"), 2);
  assert.equal(p.partialSince, 1);
  p.feed(b("de"), 3);
  assert.equal(p.partialSince, null);
  p.feed(b("Content-length: 2\r\nxyContent-len"), 4);
  assert.equal(p.partialSince, 4);
  p.setMode("line");
  assert.equal(p.partialSince, null);
});

test("read progress: a complete frame followed by a started one restarts the clock", () => {
  const p = new ReadProgress("frame");
  p.feed(b("Content-length: 3\r\nab"), 1);
  p.feed(b("cContent-length: 90\r\n"), 7);
  assert.equal(p.partialSince, 7);
  p.feed(b("Content-length: 0\r\n"), 8); // body bytes, still partial
  assert.equal(p.partialSince, 7);
});
