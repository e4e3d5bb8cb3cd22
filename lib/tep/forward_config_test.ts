import { test } from "node:test";
import assert from "node:assert/strict";
import {
  describeForwardConfig,
  FORWARD_CONFIG_DEFAULTS,
  type ForwardConfigInput,
  resolveForwardConfig,
} from "./forward_config.ts";
import { ConfigError } from "../config/config_error.ts";
import { makeCidr4, makeCidr6 } from "../addr/mod.ts";
import { NET } from "./testdata/packets.ts";

const BASE: ForwardConfigInput = {
  tunnelIpv6: "2001:db8:ffff::2",
  tepIpv4: "192.0.2.2",
  pool: "198.51.100.0/24",
  clientPrefixes: ["2001:db8:100::/48"],
};

function issues(input: ForwardConfigInput): string[] {
  try {
    resolveForwardConfig(input);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("expected a ConfigError");
}

test("tep forward config: text input and defaults", () => {
  const c = resolveForwardConfig(BASE);
  assert.deepEqual(c.tunnelIpv6, NET.tep6);
  assert.equal(c.tepIpv4, NET.tep4);
  assert.equal(c.pool.network, 0xc6336400);
  assert.equal(c.pool.prefix, 24);
  assert.equal(c.clientPrefixes.length, 1);
  assert.equal(c.ipv6Mtu, 1500);
  assert.equal(c.hopLimit, 64);
  assert.equal(c.hairpin, true);
  assert.equal(c.encapLimit, undefined);
  assert.deepEqual(c.icmp, FORWARD_CONFIG_DEFAULTS.icmp);
  assert.equal(c.icmp.bindingFailure, false); // ICMPv6 1/5 is off by default
  assert.ok(Object.isFrozen(c));
  assert.equal(
    describeForwardConfig(c),
    "tunnel=2001:db8:ffff::2 ipv4=192.0.2.2 pool=198.51.100.0/24 clients=2001:db8:100::/48 mtu=1500 hairpin=true",
  );
});

test("tep forward config: binary input is copied", () => {
  const tun = NET.tep6.slice();
  const c = resolveForwardConfig({
    tunnelIpv6: tun,
    tepIpv4: NET.tep4,
    pool: makeCidr4(0xc6336400, 24),
    clientPrefixes: [makeCidr6(NET.x6, 48, { loose: true })],
    hairpin: false,
    encapLimit: 4,
    icmp: { bindingFailure: true, ratePerSec: 10, burst: 5 },
  });
  tun[0] = 0;
  assert.deepEqual(c.tunnelIpv6, NET.tep6);
  assert.equal(c.hairpin, false);
  assert.equal(c.encapLimit, 4);
  assert.equal(c.icmp.bindingFailure, true);
  assert.equal(c.icmp.timeExceeded, true);
  assert.equal(c.icmp.ratePerSec, 10);
});

test("tep forward config: every issue is reported with its path", () => {
  const got = issues({
    tunnelIpv6: "2001:db8::zz",
    tepIpv4: "010.0.0.1",
    pool: "198.51.100.1/24",
    clientPrefixes: ["2001:db8:100::/48", "nope"],
    ipv6Mtu: 1279,
    hopLimit: 0,
    hairpin: "yes" as unknown as boolean,
    icmp: { ratePerSec: 0 },
    reassembly: { maxPacketBytes: 1400 },
  });
  assert.deepEqual(got.map((s) => s.split(":")[0]), [
    "tunnelIpv6",
    "tepIpv4",
    "pool",
    "clientPrefixes[1]",
    "ipv6Mtu",
    "hopLimit",
    "hairpin",
    "icmp.ratePerSec",
    "reassembly.maxPacketBytes",
  ]);
});

test("tep forward config: loops are refused (TEP IPv4 in the pool, tunnel address in a client prefix)", () => {
  assert.match(issues({ ...BASE, tepIpv4: "198.51.100.1" })[0], /^tepIpv4: inside the pool/);
  assert.match(
    issues({ ...BASE, clientPrefixes: ["2001:db8::/32"] })[0],
    /^tunnelIpv6: .* inside the client prefix 2001:db8::\/32/,
  );
  assert.match(issues({ ...BASE, clientPrefixes: [] })[0], /^clientPrefixes: at least one/);
  assert.match(issues({ ...BASE, tunnelIpv6: "ff02::1" })[0], /multicast/);
});
