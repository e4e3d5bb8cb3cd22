import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { parseReplyBody } from "./reply_body.ts";
import { mutateBytes, randomBytes } from "./_fuzz.ts";

const enc = new TextEncoder();

test("reply body: status line and XML", () => {
  const r = parseReplyBody(enc.encode('200 Success\r\n<tunnel action="info"></tunnel>\r\n'));
  assert.ok(r.ok);
  assert.equal(r.reply.status.code, 200);
  assert.equal(r.reply.xml, '<tunnel action="info"></tunnel>');
});

test("reply body: status only, unframed, OK form", () => {
  const a = parseReplyBody(enc.encode("308 Requested Address Unavailable\r\n"));
  assert.ok(a.ok && a.reply.status.code === 308 && a.reply.xml === null);
  const b = parseReplyBody(enc.encode("OK Authentication successful"));
  assert.ok(b.ok && b.reply.status.code === 200);
});

test("reply body: refusals", () => {
  assert.deepEqual(parseReplyBody(Uint8Array.of(0xff, 0xfe)), { ok: false, reason: "not-utf8" });
  assert.deepEqual(parseReplyBody(enc.encode("<tunnel/>")), { ok: false, reason: "no-status" });
  assert.deepEqual(parseReplyBody(new Uint8Array(0)), { ok: false, reason: "no-status" });
});

test("reply body: 100k random and mutated bodies never throw", () => {
  const rng = new Prng(0x9e1);
  const seed = enc.encode('200 Success\r\n<tunnel action="info" type="v4v6"></tunnel>\r\n');
  for (let i = 0; i < 100_000; i++) {
    const r = parseReplyBody(i % 2 ? mutateBytes(rng, seed) : randomBytes(rng, 40));
    assert.ok(r.ok || r.reason === "not-utf8" || r.reason === "no-status");
  }
});
