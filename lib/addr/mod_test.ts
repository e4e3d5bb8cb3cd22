import { test } from "node:test";
import assert from "node:assert/strict";
import * as addr from "./mod.ts";

test("addr: mod.ts re-exports the public API and nothing private", () => {
  assert.deepEqual(Object.keys(addr).sort(), [
    "Ipv4Pool",
    "cidr4Broadcast",
    "cidr4FirstHost",
    "cidr4LastHost",
    "cidr4Size",
    "cidr6Last",
    "cidr6Size",
    "contains4",
    "contains6",
    "formatCidr4",
    "formatCidr6",
    "formatIpv4",
    "formatIpv6",
    "ipv4FromBytes",
    "ipv4ToBytes",
    "ipv6Equals",
    "ipv6Key",
    "makeCidr4",
    "makeCidr6",
    "parseCidr4",
    "parseCidr6",
    "parseIpv4",
    "parseIpv6",
  ]);
  const pool = new addr.Ipv4Pool(addr.makeCidr4(0xc0000200, 29));
  assert.equal(addr.formatIpv4(pool.addressAt(0)), "192.0.2.1");
});
