import { test } from "node:test";
import assert from "node:assert/strict";
import { renderLeases, renderStats, renderTeps } from "./control.ts";

test("control: leases as a table with a summary, JSON unchanged", () => {
  const v = {
    leases: [{
      ipv4: "198.51.100.7",
      clientIpv6: "2001:db8:100::10",
      identity: "",
      tep: "tep1",
      expiresAt: "2030-01-01T00:00:00.000Z",
      remainingSeconds: 60,
      tepsThatQueried: ["tep2"],
      bindingUntil: "",
    }],
    quarantine: [{ ipv4: "198.51.100.8", until: "2030-01-01T00:00:00.000Z" }],
  };
  const r = renderLeases(v);
  assert.equal(r.result, 0);
  assert.equal(
    r.text,
    "IPV4          CLIENT IPV6       IDENTITY     TEP   EXPIRES                   LEFT  ALSO AT\n" +
      "198.51.100.7  2001:db8:100::10  (anonymous)  tep1  2030-01-01T00:00:00.000Z  60s   tep2\n" +
      "1 lease, 1 address in quarantine\n",
  );
  assert.deepEqual(r.arguments, v);
  assert.equal(
    renderLeases({ leases: [], quarantine: [] }).text,
    "0 leases, 0 addresses in quarantine\n",
  );
});

test("control: TEPs and non-zero counters", () => {
  const t = renderTeps([{
    name: "tep1",
    ipv6: "2001:db8:ffff::1",
    ipv4: "192.0.2.1",
    state: "up",
    since: "2030-01-01T00:00:00.000Z",
    peer: "2001:db8:ffff::1",
    transport: "tcp",
    leases: 3,
    pushes: 4,
    queued: 0,
    configured: true,
  }]);
  assert.match(t.text, /^TEP +STATE +SINCE +SESSION +IPV6 +IPV4 +LEASES +PUSHES +QUEUED\n/);
  assert.match(
    t.text,
    /^tep1 +up +2030\S+ +tcp 2001:db8:ffff::1 +2001:db8:ffff::1 +192\.0\.2\.1 +3 +4 +0$/m,
  );
  const s = renderStats({ a_total: { "x=1": 2, "x=2": 0 }, b_total: { "": 5 } });
  assert.equal(s.text, "a_total{x=1} 2\nb_total 5\n");
});
