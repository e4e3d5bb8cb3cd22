import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeTunnelNetwork, FakeTunnelSocket } from "./fake_tunnel_socket.ts";
import type { TunnelSocket } from "./tunnel_socket.ts";
import { SysError } from "./sys_error.ts";

// Compile-time check: the fake satisfies the interface.
const asSocket = (f: FakeTunnelSocket): TunnelSocket => f;

test("fake tunnel socket: inject, send and canonical addresses", async () => {
  const fake = new FakeTunnelSocket("2001:DB8:100::10");
  const s = asSocket(fake);
  assert.equal(s.local, "2001:db8:100::10");
  fake.inject(new Uint8Array([0x45]), "2001:db8:ffff:0::1");
  assert.deepEqual(await s.recv(), { packet: new Uint8Array([0x45]), from: "2001:db8:ffff::1" });
  assert.equal(s.send(new Uint8Array([1]), "2001:db8:ffff::1"), true);
  assert.deepEqual(fake.takeSent(), [{ packet: new Uint8Array([1]), to: "2001:db8:ffff::1" }]);
  assert.throws(() => s.send(new Uint8Array([1]), "not-an-address"), TypeError);
});

test("fake tunnel socket: a network delivers between sockets", async () => {
  const net = new FakeTunnelNetwork();
  const client = new FakeTunnelSocket("2001:db8:100::10", net);
  const tep = new FakeTunnelSocket("2001:db8:ffff::1", net);
  const got = tep.recv();
  client.send(new Uint8Array([0x45, 0]), "2001:db8:ffff::1");
  assert.deepEqual(await got, { packet: new Uint8Array([0x45, 0]), from: "2001:db8:100::10" });
  tep.close();
  assert.equal(await tep.recv(), null);
  assert.equal(client.send(new Uint8Array([1]), "2001:db8:ffff::1"), true);
  assert.throws(() => tep.send(new Uint8Array([1]), "2001:db8:100::10"), SysError);
});
