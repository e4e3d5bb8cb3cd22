import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import {
  formatVersionLine,
  hasAcceptStep,
  isTsp20Version,
  isTspVersion,
  parseVersionLine,
  TSP_VERSIONS,
} from "./version.ts";
import { mutateText, pick } from "./_fuzz.ts";

test("version: the four versions, newest first", () => {
  assert.deepEqual(TSP_VERSIONS, ["2.0.2", "2.0.1", "2.0.0", "1.0"]);
  assert.ok(isTspVersion("1.0"));
  assert.ok(!isTspVersion("1.0.1"));
});

test("version: parse VERSION= lines leniently", () => {
  assert.deepEqual(parseVersionLine("VERSION=2.0.0"), { ok: true, version: "2.0.0" });
  assert.deepEqual(parseVersionLine("version=1.0 "), { ok: true, version: "1.0" });
  assert.deepEqual(parseVersionLine("VERSION= 2.0.2"), { ok: true, version: "2.0.2" });
  assert.deepEqual(parseVersionLine("VERSION=1.0.1"), { ok: true, version: "1.0.1" });
  assert.deepEqual(parseVersionLine("VERSION=abc"), { ok: false, reason: "bad-version" });
  assert.deepEqual(parseVersionLine("VERSION=2"), { ok: false, reason: "bad-version" });
  assert.deepEqual(parseVersionLine("AUTHENTICATE ANONYMOUS"), {
    ok: false,
    reason: "not-version",
  });
  assert.deepEqual(parseVersionLine(""), { ok: false, reason: "not-version" });
});

test("version: format and the accept step", () => {
  assert.equal(formatVersionLine("2.0.0"), "VERSION=2.0.0");
  assert.throws(() => formatVersionLine("2.0.0\r\n"), TypeError);
  assert.ok(hasAcceptStep("2.0.0") && hasAcceptStep("2.0.1") && hasAcceptStep("2.0.2"));
  assert.ok(!hasAcceptStep("1.0") && !hasAcceptStep("1.0.1"));
});

test("version: isTsp20Version accepts any 2.0.x, as tsps does", () => {
  for (const v of ["2.0.0", "2.0.1", "2.0.2", "2.0.3", "2.0.99", "2.0.100", "2.0.1.5"]) {
    assert.ok(isTsp20Version(v), v);
  }
  for (const v of ["1.0", "1.0.1", "2.0", "2.1.0", "20.0.1", "3.0.0", "2.0.", ""]) {
    assert.ok(!isTsp20Version(v), v);
  }
  assert.equal(isTsp20Version(undefined as unknown as string), false);
});

test("version: 100k random and mutated lines never throw", () => {
  const rng = new Prng(0xbe51);
  for (let i = 0; i < 100_000; i++) {
    const line = i % 2
      ? mutateText(rng, "VERSION=" + pick(rng, TSP_VERSIONS))
      : String.fromCharCode(...rng.bytes(rng.int(20)));
    const r = parseVersionLine(line);
    assert.ok(
      r.ok ? /^\d/.test(r.version) : r.reason === "not-version" || r.reason === "bad-version",
    );
  }
});
