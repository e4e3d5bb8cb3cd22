import { test } from "node:test";
import assert from "node:assert/strict";
import { addr, inet, tsp, VERSION } from "./mod.ts";

test("mod: the public API loads on this runtime and its areas work together", () => {
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
  const a = addr.parseIpv4("198.51.100.7");
  assert.ok(a.ok);
  const bytes = tsp.encodeCommand(tsp.encodeTunnel(tsp.queryRequest("198.51.100.7")));
  assert.match(new TextDecoder().decode(bytes), /^Content-length: \d+\r\n<tunnel action="query"/);
  assert.equal(typeof inet.internetChecksum, "function");
});
