import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import {
  DEFAULT_FRAME_LIMITS,
  type FrameErrorReason,
  type FrameItem,
  FrameReader,
} from "./frame_reader.ts";
import { mutateBytes, randomBytes } from "./_fuzz.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function show(items: FrameItem[]): string[] {
  return items.map((i) =>
    i.kind === "line"
      ? `L:${dec.decode(i.line)}`
      : i.kind === "frame"
      ? `F:${dec.decode(i.body)}`
      : `E:${i.reason}`
  );
}

test("frame reader: lines with CR LF or LF, NULs around lines dropped (gogoc)", () => {
  const r = new FrameReader({ mode: "line" });
  assert.deepEqual(
    show(r.feed(enc.encode("VERSION=2.0.0\r\nAUTHENTICATE ANONYMOUS\r\n\0bare\n\0\0x\0\r\n"))),
    [
      "L:VERSION=2.0.0",
      "L:AUTHENTICATE ANONYMOUS",
      "L:bare",
      "L:x",
    ],
  );
  assert.deepEqual(show(r.feed(enc.encode("\r\n"))), ["L:"], "empty lines are lines in line mode");
});

test("frame reader: PLAIN credentials keep inner NULs; gogoc's extra NUL is dropped", () => {
  const r = new FrameReader();
  const items = r.feed(enc.encode("AUTHENTICATE PLAIN\r\n\0\0user\0pass\r\n"));
  assert.equal(items.length, 2);
  assert.deepEqual(
    Array.from((items[1] as { line: Uint8Array }).line),
    Array.from(enc.encode("user\0pass")),
  );
});

test("frame reader: command frames, byte counts, byte-at-a-time feeding", () => {
  const body = '<tunnel action="accept"></tunnel>\r\n';
  const wire = enc.encode(`\0Content-length: 35\r\n${body}\r\ncontent-LENGTH:\t3\r\nabc`);
  const r = new FrameReader({ mode: "command" });
  const got: FrameItem[] = [];
  for (const b of wire) got.push(...r.feed(Uint8Array.of(b)));
  assert.deepEqual(show(got), [`F:${body}`, "F:abc"]);
  assert.equal(r.buffered, 0);
  // Multi-byte UTF-8: N counts bytes.
  const utf = enc.encode("é\r\n");
  assert.deepEqual(
    show(
      new FrameReader({ mode: "command" }).feed(
        enc.encode(`Content-length: ${utf.length}\r\né\r\n`),
      ),
    ),
    [
      "F:é\r\n",
    ],
  );
});

test("frame reader: partial and completed tell whether the peer stopped inside an item", () => {
  const r = new FrameReader();
  assert.equal(r.partial, false);
  r.push(enc.encode("\0\0"));
  assert.equal(r.next("line"), null);
  assert.equal(r.partial, false, "NULs between lines start nothing");
  r.push(enc.encode("VERSION=2"));
  assert.equal(r.next("line"), null);
  assert.equal(r.partial, true);
  r.push(enc.encode(".0.0\r\n"));
  assert.equal(r.next("line")?.kind, "line");
  assert.equal(r.next("line"), null);
  assert.equal(r.partial, false);
  r.push(enc.encode("\r\nContent-length: 3\r\n"));
  assert.equal(r.next("command"), null);
  assert.equal(r.partial, true, "header read, body awaited");
  assert.equal(r.completed, 2, "the VERSION line and the empty line before the header");
  r.push(enc.encode("abc\r"));
  assert.equal(r.next("command")?.kind, "frame");
  assert.equal(r.completed, 3);
  assert.equal(r.next("command"), null);
  assert.equal(r.partial, true, "the CR of an empty line");
  r.push(enc.encode("\n"));
  assert.equal(r.next("command"), null);
  assert.equal(r.partial, false, "an empty line between frames is skipped...");
  assert.equal(r.completed, 4, "...but it ended");
  r.push(enc.encode("Content-len"));
  assert.equal(r.next("command"), null);
  assert.equal(r.partial, true, "a header line under way");
  r.push(enc.encode("gth: 0\r\n"));
  assert.equal(r.next("command")?.kind, "frame");
  assert.equal(r.partial, false, "Content-length: 0 is a whole (empty) frame");
  r.push(enc.encode("oops\r\n"));
  assert.equal(r.next("command")?.kind, "error");
  assert.equal(r.partial, false, "nothing is under way after an error");
});

test("frame reader: reply mode yields unframed status lines and frames", () => {
  const r = new FrameReader({ mode: "reply" });
  assert.deepEqual(
    show(
      r.feed(
        enc.encode(
          "CAPABILITY TUNNEL=V4V6\r\n200 Success\r\n\r\nContent-length: 13\r\n200 Success\r\n308 x\r\n",
        ),
      ),
    ),
    [
      "L:CAPABILITY TUNNEL=V4V6",
      "L:200 Success",
      "F:200 Success\r\n",
      "L:308 x",
    ],
  );
});

test("frame reader: mode can change between items in one buffer", () => {
  const r = new FrameReader();
  r.push(enc.encode("AUTHENTICATE ANONYMOUS\r\nContent-length: 2\r\nhi"));
  assert.deepEqual(show([r.next("line")!]), ["L:AUTHENTICATE ANONYMOUS"]);
  assert.deepEqual(show([r.next("command")!]), ["F:hi"]);
  assert.equal(r.next("command"), null);
});

test("frame reader: errors are 500, sticky, and clear", () => {
  const cases: [string, string, FrameErrorReason][] = [
    ["command", "hello\r\n", "not-framed"],
    ["command", "Content-length: abc\r\n", "bad-content-length"],
    ["command", "Content-length: 12 3\r\n", "bad-content-length"],
    ["command", "Content-length: 1234567890\r\n", "bad-content-length"],
    ["reply", "Content-length: 99999\r\n", "length-too-large"],
    ["line", "x".repeat(DEFAULT_FRAME_LIMITS.maxLineLength + 2), "line-too-long"],
    ["line", "x".repeat(DEFAULT_FRAME_LIMITS.maxLineLength + 1) + "\r\n", "line-too-long"],
  ];
  for (const [mode, input, reason] of cases) {
    const r = new FrameReader({ mode: mode as "line" });
    const items = r.feed(enc.encode(input));
    assert.equal(items.length, 1, input.slice(0, 30));
    const e = items[0];
    assert.ok(
      e.kind === "error" && e.reason === reason && e.status === 500,
      `${input.slice(0, 30)}: ${show(items)}`,
    );
    assert.match(e.detail, /^Cannot read (line|frame): /);
    assert.equal(r.failed, reason);
    assert.deepEqual(r.next(), e, "sticky");
  }
  // A line of exactly the limit is fine.
  const ok = new FrameReader().feed(
    enc.encode("y".repeat(DEFAULT_FRAME_LIMITS.maxLineLength) + "\r\n"),
  );
  assert.equal(ok[0].kind, "line");
});

test("frame reader: configurable limits and buffer overflow", () => {
  const r = new FrameReader({
    mode: "command",
    limits: { maxLineLength: 32, maxContentLength: 8, maxBuffered: 64 },
  });
  assert.deepEqual(show(r.feed(enc.encode("Content-length: 9\r\n"))), ["E:length-too-large"]);
  const o = new FrameReader({
    limits: { maxLineLength: 32, maxContentLength: 8, maxBuffered: 64 },
  });
  assert.equal(o.push(new Uint8Array(65)), false);
  assert.equal(o.failed, "buffer-overflow");
  assert.throws(() => new FrameReader({ limits: { maxLineLength: 0 } }), RangeError);
  assert.throws(() => new FrameReader({ limits: { maxBuffered: 10 } }), RangeError);
});

test("frame reader: a buffer that grows keeps its bytes across compaction", () => {
  const r = new FrameReader({ mode: "command" });
  const body = "z".repeat(10000);
  const wire = enc.encode(`Content-length: ${body.length}\r\n${body}`);
  const items: FrameItem[] = [];
  for (let i = 0; i < wire.length; i += 777) items.push(...r.feed(wire.subarray(i, i + 777)));
  assert.equal(items.length, 1);
  assert.equal(dec.decode((items[0] as { body: Uint8Array }).body), body);
});

test("frame reader: 100k random and mutated streams never throw and end in a defined item", () => {
  const rng = new Prng(0xf4a3e);
  const seeds = [
    enc.encode("VERSION=2.0.0\r\nAUTHENTICATE PLAIN\r\n\0\0u\0p\r\n"),
    enc.encode('Content-length: 35\r\n<tunnel action="accept"></tunnel>\r\n'),
    enc.encode("Content-length: 13\r\n200 Success\r\n308 Requested Address Unavailable\r\n"),
  ];
  const modes = ["line", "command", "reply"] as const;
  const reasons = new Set([
    "line-too-long",
    "bad-content-length",
    "length-too-large",
    "not-framed",
    "buffer-overflow",
  ]);
  const limits = { maxLineLength: 64, maxContentLength: 64, maxBuffered: 256 };
  for (let i = 0; i < 100_000; i++) {
    const input = i % 2 ? mutateBytes(rng, seeds[rng.int(seeds.length)]) : randomBytes(rng, 80);
    const r = new FrameReader({ mode: modes[i % 3], limits });
    let off = 0;
    while (off < input.length) {
      const n = 1 + rng.int(16);
      for (const item of r.feed(input.subarray(off, off + n))) {
        if (item.kind === "error") assert.ok(reasons.has(item.reason));
        else if (item.kind === "frame") assert.ok(item.body.length <= 64);
        else assert.ok(item.line.length <= 64);
      }
      off += n;
    }
  }
});
