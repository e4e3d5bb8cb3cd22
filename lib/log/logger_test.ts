import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "./logger.ts";

test("log: text lines carry the event name and fields, one per line", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), now: () => 0, base: { tep: "tep1" } });
  log.info("lease.allocated", { ipv4: "198.51.100.7", note: "two words", n: 3 });
  log.debug("hidden");
  assert.deepEqual(lines, [
    '1970-01-01T00:00:00.000Z INFO  lease.allocated tep=tep1 ipv4=198.51.100.7 note="two words" n=3\n',
  ]);
});

test("log: json lines parse back and respect the level", () => {
  const lines: string[] = [];
  const log = createLogger({
    write: (l) => lines.push(l),
    format: "json",
    level: "warn",
    now: () => 0,
  });
  log.info("ignored");
  log.warn("tep.drop", { reason: "spoofed-source", count: 2n });
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]), {
    ts: "1970-01-01T00:00:00.000Z",
    level: "warn",
    event: "tep.drop",
    reason: "spoofed-source",
    count: "2",
  });
});
