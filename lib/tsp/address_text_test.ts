import { test } from "node:test";
import assert from "node:assert/strict";
import { checkAddressText } from "./address_text.ts";

test("address text: IPv4 strict, whitespace removed", () => {
  assert.deepEqual(checkAddressText("ipv4", "\r\n   198.51.100.7\r\n  "), {
    ok: true,
    value: "198.51.100.7",
  });
  assert.deepEqual(checkAddressText("ipv4", "198.51. 100.7"), { ok: true, value: "198.51.100.7" });
  for (const bad of ["010.0.0.1", "10.1", "0x0a.0.0.1", "256.1.1.1", "", "1.2.3.4.5"]) {
    assert.deepEqual(checkAddressText("ipv4", bad), { ok: false, reason: "bad-ipv4" }, bad);
  }
});

test("address text: IPv6 with the TSP :: + eight groups repair, kept as sent", () => {
  assert.deepEqual(checkAddressText("ipv6", " 2001:db8:100::10\n"), {
    ok: true,
    value: "2001:db8:100::10",
  });
  const tsp = "2001:db8:c18:ffff::0000:0000:0000:0001";
  assert.deepEqual(checkAddressText("ipv6", tsp), { ok: true, value: tsp });
  for (const bad of ["fe80::1%eth0", "::ffff:192.0.2.1", "2001:db8:::1", "1.2.3.4", "g::1"]) {
    assert.deepEqual(checkAddressText("ipv6", bad), { ok: false, reason: "bad-ipv6" }, bad);
  }
});

test("address text: dn host names", () => {
  assert.deepEqual(checkAddressText("dn", " ns1.dstm.example "), {
    ok: true,
    value: "ns1.dstm.example",
  });
  for (const bad of ["", "a b", "-x", "x<y", "a".repeat(300)]) {
    assert.deepEqual(checkAddressText("dn", bad), { ok: false, reason: "bad-dn" }, bad);
  }
  assert.deepEqual(checkAddressText("ipv4", 5 as unknown as string), {
    ok: false,
    reason: "bad-ipv4",
  });
});
