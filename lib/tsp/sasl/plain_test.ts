import assert from "node:assert/strict";
import { test } from "node:test";
import { plainClient, plainServer } from "./plain.ts";
import { exchange, line } from "./_testing.ts";

const users: Record<string, string> = { user1: "secret", "jos\u00e9": "p\u00e4ss\u20ac" };
const lookup = (u: string) => Object.hasOwn(users, u) ? users[u] : undefined;

function serverStep(l: Uint8Array) {
  const s = plainServer(lookup);
  assert.deepEqual(s.start(), { kind: "await" });
  return s.step(l);
}

test("sasl plain: client sends gogoc's raw \\0user\\0pass (not base64)", () => {
  const c = plainClient("user1", "secret");
  assert.equal(c.mechanism, "PLAIN");
  assert.equal(c.successAllowed, false);
  const steps = c.start();
  assert.equal(steps.length, 1);
  assert.equal(steps[0].kind, "send");
  if (steps[0].kind === "send") assert.deepEqual(steps[0].line, line("\0user1\0secret"));
  assert.equal(c.successAllowed, true);
  assert.deepEqual(c.step(new Uint8Array(0)), { kind: "await" });
  assert.equal(c.step(line("x")).kind, "failure");
  assert.equal(c.start()[0].kind, "failure");
});

test("sasl plain: client credentials are UTF-8", () => {
  const steps = plainClient("jos\u00e9", "p\u00e4ss\u20ac").start();
  assert.equal(steps[0].kind, "send");
  if (steps[0].kind === "send") {
    assert.deepEqual(steps[0].line, new TextEncoder().encode("\0jos\u00e9\0p\u00e4ss\u20ac"));
  }
});

test("sasl plain: client refuses unusable credentials with TypeError", () => {
  assert.throws(() => plainClient("", "x"), TypeError);
  assert.throws(() => plainClient("u", ""), TypeError);
  assert.throws(() => plainClient("u\0v", "x"), TypeError);
  assert.throws(() => plainClient("u", "x\r\n"), TypeError);
  assert.throws(() => plainClient("u".repeat(256), "x"), TypeError);
});

test("sasl plain: server accepts the line with or without the leading NUL, and authzid=user", () => {
  for (
    const text of [
      "\0user1\0secret",
      "user1\0secret",
      "\0\0user1\0secret\0",
      "user1\0user1\0secret",
    ]
  ) {
    assert.deepEqual(serverStep(line(text)), { kind: "success", identity: "user1" }, text);
  }
  assert.deepEqual(serverStep(line("jos\u00e9\0p\u00e4ss\u20ac")), {
    kind: "success",
    identity: "jos\u00e9",
  });
});

test("sasl plain: server refuses bad passwords, unknown users and malformed lines", () => {
  const bad = [
    "\0user1\0wrong",
    "\0user1\0secre",
    "\0user1\0secretx",
    "\0nobody\0secret",
    "admin\0user1\0secret", // proxy authorization is not supported
    "user1",
    "",
    "user1\0\0secret",
    "a\0user1\0secret\0b",
    "\0user1\0" + "s".repeat(256),
  ];
  for (const text of bad) {
    assert.equal(serverStep(line(text)).kind, "failure", JSON.stringify(text));
  }
  assert.equal(serverStep(new Uint8Array([0x75, 0x00, 0xff, 0xfe])).kind, "failure");
  assert.equal(serverStep(new Uint8Array(2000)).kind, "failure");
});

test("sasl plain: server is single use and needs start", () => {
  const s = plainServer(lookup);
  assert.equal(s.step(line("user1\0secret")).kind, "failure");
  s.start();
  assert.equal(s.start().kind, "failure");
  assert.equal(s.step(line("user1\0secret")).kind, "success");
  assert.equal(s.step(line("user1\0secret")).kind, "failure");
});

test("sasl plain: a throwing lookup is a failure, not an exception", () => {
  const s = plainServer(() => {
    throw new Error("db down");
  });
  s.start();
  assert.equal(s.step(line("user1\0secret")).kind, "failure");
  assert.throws(() => plainServer(undefined as never), TypeError);
});

test("sasl plain: full exchanges in memory, good and bad password", () => {
  assert.deepEqual(exchange(plainServer(lookup), plainClient("user1", "secret")), {
    end: "success",
    identity: "user1",
    verified: false,
  });
  const bad = exchange(plainServer(lookup), plainClient("user1", "nope"));
  assert.equal(bad.end, "server-failure");
});
