import { test } from "node:test";
import assert from "node:assert/strict";
import { DomainTepFilter } from "./tep_filter.ts";
import { parseCidr6, parseIpv6 } from "../lib/addr/mod.ts";

const ip6 = (t: string) => {
  const r = parseIpv6(t);
  if (!r.ok) throw new Error(t);
  return r.value;
};
const cidr6 = (t: string) => {
  const r = parseCidr6(t);
  if (!r.ok) throw new Error(t);
  return r.value;
};

test("tep filter: without prefixes the /64 of a named TEP admits its siblings", () => {
  const f = new DomainTepFilter();
  assert.equal(f.learnsBlocks, true);
  assert.equal(f.accepts(ip6("2001:db8:ffff::2"), 0), false, "nothing named yet");
  f.addTep(ip6("2001:db8:ffff::1"));
  assert.equal(f.accepts(ip6("2001:db8:ffff::1"), 0), true);
  assert.equal(f.accepts(ip6("2001:db8:ffff::2"), 0), true, "TEP2 in the same /64");
  assert.equal(f.accepts(ip6("2001:db8:ffff:1::2"), 0), false, "another /64");
  assert.equal(f.accepts(ip6("2001:db8:bad::1"), 0), false);
  assert.deepEqual(f.describe(), ["2001:db8:ffff::/64"]);
  // at an offset inside a packet
  const pkt = new Uint8Array(40);
  pkt.set(ip6("2001:db8:ffff::9"), 8);
  assert.equal(f.accepts(pkt, 8), true);
});

test("tep filter: with prefixes only those and the named TEPs themselves", () => {
  const f = new DomainTepFilter({ prefixes: [cidr6("2001:db8:ffff::/48")] });
  assert.equal(f.learnsBlocks, false);
  assert.equal(f.accepts(ip6("2001:db8:ffff:7::2"), 0), true);
  f.addTep(ip6("2001:db8:aaaa::1"));
  assert.equal(f.accepts(ip6("2001:db8:aaaa::1"), 0), true);
  assert.equal(f.accepts(ip6("2001:db8:aaaa::2"), 0), false, "no /64 learning with prefixes");
  assert.deepEqual(f.describe(), ["2001:db8:ffff::/48"]);
});

test("tep filter: the learned blocks are bounded, oldest forgotten first", () => {
  const f = new DomainTepFilter({ maxLearnedTeps: 2 });
  f.addTep(ip6("2001:db8:1::1"));
  f.addTep(ip6("2001:db8:2::1"));
  f.addTep(ip6("2001:db8:2::5")); // same block: no new slot
  f.addTep(ip6("2001:db8:3::1"));
  assert.equal(f.learnedBlocks().length, 2);
  assert.equal(f.accepts(ip6("2001:db8:1::9"), 0), false);
  assert.equal(f.accepts(ip6("2001:db8:3::9"), 0), true);
});
