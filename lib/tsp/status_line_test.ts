import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { formatStatusLine, parseStatusLine, type StatusLineReason } from "./status_line.ts";
import { mutateText, pick } from "./_fuzz.ts";

test("status line: numeric codes with text", () => {
  const r = parseStatusLine("200 Success");
  assert.deepEqual(r, {
    ok: true,
    status: { code: 200, baseCode: 200, text: "Success", redirect: false, success: true },
  });
  const m = parseStatusLine("308 Requested Address Unavailable\r\n");
  assert.ok(
    m.ok && m.status.code === 308 && m.status.text === "Requested Address Unavailable" &&
      !m.status.success,
  );
  const bare = parseStatusLine("300");
  assert.ok(bare.ok && bare.status.code === 300 && bare.status.text === "");
});

test("status line: OK lines are 200 (TSP 1.0, multi-TEP draft)", () => {
  for (const l of ["OK Authentication successful", "ok", "OK", "Ok  fine"]) {
    const r = parseStatusLine(l);
    assert.ok(r.ok && r.status.code === 200 && r.status.success, l);
  }
  const r = parseStatusLine("OK Authentication successful");
  assert.ok(r.ok && r.status.text === "OK Authentication successful");
  assert.ok(!parseStatusLine("OKAY").ok);
});

test("status line: redirects", () => {
  const r = parseStatusLine("1302 Unsupported client version");
  assert.ok(r.ok && r.status.redirect && r.status.baseCode === 302 && !r.status.success);
});

test("status line: refusals are tagged", () => {
  assert.deepEqual(parseStatusLine(""), { ok: false, reason: "empty" });
  assert.deepEqual(parseStatusLine("\0\r\n"), { ok: false, reason: "empty" });
  assert.deepEqual(parseStatusLine("CAPABILITY TUNNEL=V4V6"), { ok: false, reason: "not-status" });
  assert.deepEqual(parseStatusLine("20 short"), { ok: false, reason: "not-status" });
  assert.deepEqual(parseStatusLine("20000 long"), { ok: false, reason: "not-status" });
  assert.deepEqual(parseStatusLine("200Success"), { ok: false, reason: "not-status" });
  assert.deepEqual(parseStatusLine("200 " + "x".repeat(600)), { ok: false, reason: "too-long" });
  assert.deepEqual(parseStatusLine(undefined as unknown as string), {
    ok: false,
    reason: "not-status",
  });
});

test("status line: format uses the table text, refuses bad input", () => {
  assert.equal(formatStatusLine(200), "200 Success");
  assert.equal(formatStatusLine(1302), "1302 Unsupported client version");
  assert.equal(formatStatusLine(200, "OK"), "200 OK");
  assert.throws(() => formatStatusLine(99), RangeError);
  assert.throws(() => formatStatusLine(200.5), RangeError);
  assert.throws(() => formatStatusLine(200, "a\r\nb"), TypeError);
});

test("status line: 100k random and mutated lines never throw and end in a defined status", () => {
  const rng = new Prng(0x5717);
  const seeds = [
    "200 Success",
    "OK Authentication successful",
    "1302 Unsupported client version",
    "308 x",
  ];
  const reasons = new Set<StatusLineReason>(["empty", "not-status", "too-long"]);
  for (let i = 0; i < 100_000; i++) {
    const line = i % 2
      ? mutateText(rng, pick(rng, seeds))
      : String.fromCharCode(...rng.bytes(rng.int(24)));
    const r = parseStatusLine(line);
    if (r.ok) {
      assert.ok(Number.isInteger(r.status.code) && r.status.code >= 0 && r.status.code <= 9999);
    } else {
      assert.ok(reasons.has(r.reason));
    }
  }
});
