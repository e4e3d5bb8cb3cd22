import { test } from "node:test";
import assert from "node:assert/strict";
import {
  baseStatusCode,
  isRedirectCode,
  isSuccessCode,
  REDIRECT_OFFSET,
  Status,
  STATUS_CODES,
  statusEntry,
  statusText,
} from "./status_codes.ts";

test("status codes: one table, ascending, unique, exact texts of §2.7", () => {
  const codes = STATUS_CODES.map((e) => e.code);
  assert.deepEqual(codes, [...codes].sort((a, b) => a - b));
  assert.equal(new Set(codes).size, codes.length);
  const texts = Object.fromEntries(STATUS_CODES.map((e) => [e.code, e.text]));
  assert.equal(texts[200], "Success");
  assert.equal(texts[300], "Authentication failed");
  assert.equal(texts[302], "Unsupported client version");
  assert.equal(texts[303], "Unsupported tunnel type");
  assert.equal(texts[500], "Invalid request format or specified length");
  assert.equal(texts[530], "Server too busy");
});

test("status codes: DSTM 306-309 included, -04 meanings for 310/502/521", () => {
  assert.equal(statusText(306), "Address Pool Exhausted");
  assert.equal(statusText(307), "Configuration Error at TEP");
  assert.equal(statusText(308), "Requested Address Unavailable");
  assert.equal(statusText(309), "Invalid IPv6 address");
  assert.equal(statusText(310), "Server side error");
  assert.equal(statusText(501), "Invalid IPv4 address");
  assert.equal(statusText(502), "Invalid IPv6 address");
  assert.equal(statusText(521), "Request already in progress");
  for (const e of STATUS_CODES) assert.ok(e.meaning.length > 0 && e.source.length > 0);
});

test("status codes: +1000 redirects map to the base code and text", () => {
  assert.equal(REDIRECT_OFFSET, 1000);
  assert.ok(isRedirectCode(1302));
  assert.ok(!isRedirectCode(302));
  assert.ok(!isRedirectCode(1000));
  assert.ok(!isRedirectCode(2302));
  assert.equal(baseStatusCode(1302), 302);
  assert.equal(baseStatusCode(308), 308);
  assert.equal(statusText(1302), "Unsupported client version");
  assert.equal(statusEntry(1308)?.code, 308);
  assert.equal(statusText(599), "Unknown status");
  assert.ok(isSuccessCode(Status.SUCCESS));
  assert.ok(!isSuccessCode(1200));
  assert.ok(!isSuccessCode(300));
});

test("status codes: the table and its rows are frozen", () => {
  assert.ok(Object.isFrozen(STATUS_CODES));
  assert.ok(Object.isFrozen(STATUS_CODES[0]));
  assert.ok(Object.isFrozen(Status));
});
