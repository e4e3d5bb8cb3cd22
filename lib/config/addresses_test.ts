import { test } from "node:test";
import assert from "node:assert/strict";
import { checkCidr4, checkIpv6, parseEndpoint } from "./addresses.ts";

test("config addresses: endpoints in both families, with and without a default port", () => {
  assert.deepEqual(parseEndpoint("[2001:db8:1::1]:3653"), {
    host: "2001:db8:1::1",
    family: 6,
    port: 3653,
  });
  assert.deepEqual(parseEndpoint("0.0.0.0:53"), { host: "0.0.0.0", family: 4, port: 53 });
  assert.deepEqual(parseEndpoint("2001:db8::1", 3653), {
    host: "2001:db8::1",
    family: 6,
    port: 3653,
  });
  assert.deepEqual(parseEndpoint("[::]", 3653), { host: "::", family: 6, port: 3653 });
  assert.match(parseEndpoint("[::1]:0") as string, /bad port/);
  assert.match(parseEndpoint("010.0.0.1:1") as string, /bad address/);
  assert.match(parseEndpoint("2001:db8::1") as string, /missing port/);
  assert.match(parseEndpoint("[zz]:1") as string, /bad IPv6/);
});

test("config addresses: schema checks", () => {
  assert.equal(checkCidr4("198.51.100.0/24"), undefined);
  assert.match(checkCidr4("198.51.100.1/24")!, /host-bits-set/);
  assert.equal(checkIpv6("2001:db8::1"), undefined);
  assert.match(checkIpv6("2001:db8::g")!, /not an IPv6/);
});
