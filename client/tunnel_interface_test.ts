import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanupInterface, TunnelInterface } from "./tunnel_interface.ts";
import { FakeNetlink } from "../lib/sys/mod.ts";
import { createLogger } from "../lib/log/logger.ts";
import { makeCidr4, parseCidr4 } from "../lib/addr/mod.ts";

function setup() {
  const net = new FakeNetlink();
  net.addLink("dstm0");
  const sysctl: [string, string][] = [];
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), level: "debug" });
  const iface = new TunnelInterface("dstm0", {
    net,
    writeSysctl: (p, v) => sysctl.push([p, v]),
    log,
  });
  return { net, sysctl, lines, iface };
}

const cidr = (t: string) => {
  const r = parseCidr4(t);
  if (!r.ok) throw new Error(t);
  return r.value;
};

test("tunnel interface: prepare turns IPv6 off before the link is up, then sets the MTU", async () => {
  const { net, sysctl, iface } = setup();
  await iface.prepare(1460);
  assert.deepEqual(sysctl, [["/proc/sys/net/ipv6/conf/dstm0/disable_ipv6", "1"]]);
  const link = await net.getLink("dstm0");
  assert.equal(link.mtu, 1460);
  assert.equal(link.up, false);
});

test("tunnel interface: up adds the /32 and the routes; down removes exactly those", async () => {
  const { net, iface } = setup();
  await iface.prepare(1460);
  await iface.up(0xc6336407, [makeCidr4(0, 0), cidr("203.0.113.0/24")]);
  assert.equal((await net.getLink("dstm0")).up, true);
  const addrs = await net.listAddresses({ dev: "dstm0", family: 4 });
  assert.deepEqual(addrs.map((a) => `${a.address}/${a.prefixLength}`), ["198.51.100.7/32"]);
  const routes = await net.listRoutes({ dev: "dstm0", family: 4 });
  assert.deepEqual(routes.map((r) => r.dst).sort(), ["203.0.113.0/24", "default"]);
  assert.ok(routes.every((r) => r.prefsrc === "198.51.100.7"));
  assert.deepEqual(iface.status(), {
    name: "dstm0",
    ipv4: "198.51.100.7",
    mtu: 1460,
    routes: ["0.0.0.0/0", "203.0.113.0/24"],
    foreignRoutes: [],
  });
  await iface.down();
  assert.deepEqual(await net.listAddresses({ dev: "dstm0", family: 4 }), []);
  assert.deepEqual(await net.listRoutes({ dev: "dstm0", family: 4 }), []);
  assert.equal((await net.getLink("dstm0")).up, false);
  assert.equal(iface.status().ipv4, undefined);
});

test("tunnel interface: an existing route is left alone and kept after down", async () => {
  const { net, iface, lines } = setup();
  net.addLink("eth0", { up: true, kind: "veth" });
  await net.addAddress({ dev: "eth0", address: "192.0.2.10", prefixLength: 24 });
  await net.addRoute({ dst: "203.0.113.0/24", gateway: "192.0.2.1" });
  await iface.prepare(1460);
  await iface.up(0xc6336407, [cidr("203.0.113.0/24"), cidr("198.18.0.0/15")]);
  assert.deepEqual(iface.status().foreignRoutes, ["203.0.113.0/24"]);
  assert.ok(lines.some((l) => l.includes("interface.route-exists")));
  await iface.down();
  const left = await net.listRoutes({ family: 4 });
  assert.ok(left.some((r) => r.dst === "203.0.113.0/24" && r.gateway === "192.0.2.1"));
  assert.ok(!left.some((r) => r.dst === "198.18.0.0/15"));
});

test("tunnel interface: down tolerates pieces already gone; errors other than that propagate", async () => {
  const { net, iface } = setup();
  await iface.prepare(1460);
  await iface.up(0xc6336407, [makeCidr4(0, 0)]);
  await net.deleteLink("dstm0");
  await iface.down(); // everything is gone already: no throw
  const fresh = setup();
  fresh.net.denyWrites = true;
  await assert.rejects(fresh.iface.up(0xc6336407, []), { name: "SysError", code: "EPERM" });
});

test("tunnel interface: cleanup removes a leftover interface, and says when there is none", async () => {
  const net = new FakeNetlink();
  net.addLink("dstm0", { up: true });
  assert.equal(await cleanupInterface(net, "dstm0"), true);
  assert.equal(await cleanupInterface(net, "dstm0"), false);
});
