import { test } from "node:test";
import assert from "node:assert/strict";
import { formatIpv6 } from "../lib/addr/mod.ts";
import { resolveClientIpv6 } from "./client_address.ts";

const text = (r: ReturnType<typeof resolveClientIpv6>) =>
  r.ok ? `${r.from}:${formatIpv6(r.ipv6)}` : `refused:${r.reason}`;

test("client address: an IPv6 session's source address is the client", () => {
  assert.equal(
    text(resolveClientIpv6("2001:db8:100::10", undefined, false)),
    "source:2001:db8:100::10",
  );
  assert.equal(
    text(resolveClientIpv6("2001:db8:100::10", "2001:0db8:100:0::10", false)),
    "source:2001:db8:100::10",
  );
});

test("client address: a different address in the request needs trustRequestAddress", () => {
  assert.equal(
    text(resolveClientIpv6("2001:db8:100::10", "2001:db8:100::99", false)),
    "refused:source-mismatch",
  );
  assert.equal(
    text(resolveClientIpv6("2001:db8:100::10", "2001:db8:100::99", true)),
    "request:2001:db8:100::99",
  );
});

test("client address: IPv4, IPv4-mapped and loopback sessions must name the address", () => {
  for (const peer of ["192.0.2.7", "::ffff:192.0.2.7", "::1"]) {
    assert.equal(text(resolveClientIpv6(peer, undefined, false)), "refused:missing");
    assert.equal(text(resolveClientIpv6(peer, "2001:db8::5", false)), "request:2001:db8::5");
  }
});

test("client address: a malformed request address is refused", () => {
  assert.equal(text(resolveClientIpv6("::1", "2001:db8::zz", false)), "refused:malformed");
});
