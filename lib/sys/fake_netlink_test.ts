import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeNetlink } from "./fake_netlink.ts";
import type { NetlinkApi } from "./netlink_api.ts";
import { SysError } from "./sys_error.ts";

// Compile-time check: the fake satisfies the interface.
const asApi = (f: FakeNetlink): NetlinkApi => f;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    assert.ok(e instanceof SysError, String(e));
    return e.code;
  }
}

test("fake netlink: links, MTU and up/down", async () => {
  const nl = new FakeNetlink();
  const api = asApi(nl);
  const index = nl.addLink("tun0");
  assert.equal(await api.linkIndex("tun0"), index);
  await api.setLink("tun0", { up: true, mtu: 1400 });
  const l = await api.getLink("tun0");
  assert.equal(l.up, true);
  assert.equal(l.mtu, 1400);
  assert.equal(l.kind, "tun");
  assert.deepEqual((await api.listLinks()).map((x) => x.name), ["lo", "tun0"]);
  assert.equal(await code(api.setLink("tun0", { mtu: 20 })), "EINVAL");
  assert.equal(await code(api.getLink("tun9")), "ENODEV");
  assert.throws(() => nl.addLink("tun0"), SysError);
  await api.deleteLink("tun0");
  assert.equal(await code(api.deleteLink("tun0")), "ENODEV");
});

test("fake netlink: addresses fail like the kernel", async () => {
  const nl = new FakeNetlink();
  nl.addLink("tun0", { up: true });
  const a = { dev: "tun0", address: "10.0.0.1", prefixLength: 24 };
  assert.equal(await code(nl.addAddress(a)), "ok");
  assert.equal(await code(nl.addAddress(a)), "EEXIST");
  assert.equal(await code(nl.addAddress({ ...a, prefixLength: 16 })), "ok");
  const b = { dev: "tun0", address: "2001:db8::1", prefixLength: 64, noDad: true };
  assert.equal(await code(nl.addAddress(b)), "ok");
  assert.equal(await code(nl.addAddress({ ...b, prefixLength: 80 })), "EEXIST");
  assert.equal(await code(nl.addAddress({ ...a, dev: "nope0" })), "ENODEV");
  assert.equal(await code(nl.deleteAddress({ ...a, address: "10.0.0.9" })), "EADDRNOTAVAIL");
  const list = await nl.listAddresses({ family: 6 });
  assert.deepEqual(list.map((x) => [x.dev, x.address, x.prefixLength, x.flags]), [
    ["tun0", "2001:db8::1", 64, 2],
  ]);
  await assert.rejects(nl.addAddress({ ...a, address: "300.0.0.1" }), TypeError);
});

test("fake netlink: routes fail like the kernel", async () => {
  const nl = new FakeNetlink();
  nl.addLink("tun0");
  const r = { dst: "198.51.100.0/24", dev: "tun0" };
  assert.equal(await code(nl.addRoute(r)), "ENETDOWN");
  await nl.setLink("tun0", { up: true });
  assert.equal(await code(nl.addRoute(r)), "ok");
  assert.equal(await code(nl.addRoute(r)), "EEXIST");
  assert.equal(await code(nl.addRoute({ ...r, metric: 5 })), "ok");
  assert.equal(await code(nl.replaceRoute({ ...r, metric: 5, table: 254 })), "ok");
  assert.equal(await code(nl.addRoute({ dst: "10.9.0.0/16" })), "ENODEV");
  assert.equal(
    await code(nl.addRoute({ dst: "10.9.0.0/16", gateway: "10.99.0.1" })),
    "ENETUNREACH",
  );
  assert.equal(await code(nl.addRoute({ dst: "10.3.0.0/16", type: "blackhole" })), "ok");
  await nl.addAddress({ dev: "tun0", address: "10.0.0.1", prefixLength: 24 });
  assert.equal(await code(nl.addRoute({ dst: "default", gateway: "10.0.0.254" })), "ok");
  assert.equal(await code(nl.addRoute({ dst: "2001:db8:ffff::1/128", dev: "tun0" })), "ok");
  const v6 = await nl.listRoutes({ family: 6 });
  assert.equal(v6[0].metric, 1024);
  const def = (await nl.listRoutes({ family: 4 })).find((x) => x.dst === "default");
  assert.equal(def?.dev, "tun0");
  assert.equal(def?.scope, 0);
  assert.equal(await code(nl.deleteRoute({ dst: "10.9.0.0/16" })), "ESRCH");
  assert.equal(await code(nl.deleteRoute({ ...r, metric: 5 })), "ok");
  assert.equal(await code(nl.deleteRoute({ ...r, metric: 5 })), "ESRCH");
  // Down: the routes through the link go, as in the kernel.
  await nl.setLink("tun0", { up: false });
  assert.deepEqual((await nl.listRoutes()).map((x) => x.dst), ["10.3.0.0/16"]);
});

test("fake netlink: denied writes fail with EPERM naming CAP_NET_ADMIN", async () => {
  const nl = new FakeNetlink();
  nl.addLink("tun0");
  nl.denyWrites = true;
  await assert.rejects(nl.setLink("tun0", { up: true }), (e: unknown) => {
    assert.ok(e instanceof SysError);
    assert.equal(e.code, "EPERM");
    assert.equal(e.permissionDenied, true);
    assert.match(e.message, /^set link tun0 up: EPERM .*CAP_NET_ADMIN/);
    return true;
  });
  assert.equal((await nl.listLinks()).length, 2);
  nl.close();
  assert.equal(await code(nl.listLinks()), "EBADF");
});
