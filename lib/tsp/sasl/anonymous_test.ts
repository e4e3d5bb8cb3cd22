import assert from "node:assert/strict";
import { test } from "node:test";
import { ANONYMOUS_IDENTITY, anonymousClient, anonymousServer } from "./anonymous.ts";
import { exchange, line } from "./_testing.ts";

test("sasl anonymous: server succeeds right after AUTHENTICATE, once", () => {
  const s = anonymousServer();
  assert.equal(s.mechanism, "ANONYMOUS");
  assert.deepEqual(s.start(), { kind: "success", identity: ANONYMOUS_IDENTITY });
  assert.equal(s.start().kind, "failure");
  assert.equal(s.step(line("hello")).kind, "failure");
});

test("sasl anonymous: client sends nothing and accepts success once started", () => {
  const c = anonymousClient();
  assert.equal(c.mechanism, "ANONYMOUS");
  assert.equal(c.successAllowed, false);
  assert.deepEqual(c.start(), [{ kind: "await" }]);
  assert.equal(c.successAllowed, true);
  assert.deepEqual(c.step(new Uint8Array(0)), { kind: "await" });
  assert.equal(c.step(line("dGVzdA==")).kind, "failure");
  assert.equal(c.start()[0].kind, "failure");
});

test("sasl anonymous: client line before start is a failure", () => {
  assert.equal(anonymousClient().step(line("")).kind, "failure");
});

test("sasl anonymous: full exchange in memory", () => {
  assert.deepEqual(exchange(anonymousServer(), anonymousClient()), {
    end: "success",
    identity: "anonymous",
    verified: false,
  });
});
