import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno, errnoByName, errnoName, errnoText } from "./errno.ts";
import { EXIT_NO_PERMISSION, SysError } from "./sys_error.ts";

test("sys error: errno names and texts", () => {
  assert.equal(errnoName(17), "EEXIST");
  assert.equal(errnoName(11), "EAGAIN");
  assert.equal(errnoName(9999), "E9999");
  assert.equal(errnoText(19), "No such device");
  assert.equal(errnoByName("ENODEV"), Errno.ENODEV);
  assert.equal(errnoByName("EWOULDBLOCK"), Errno.EAGAIN);
  assert.equal(errnoByName("ENOPE"), undefined);
});

test("sys error: fields and message", () => {
  const e = new SysError("add address 10.0.0.1/24 dev tun0", 17, "ipv4: Address already assigned");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "SysError");
  assert.equal(e.errno, 17);
  assert.equal(e.code, "EEXIST");
  assert.equal(e.op, "add address 10.0.0.1/24 dev tun0");
  assert.equal(e.permissionDenied, false);
  assert.equal(
    e.message,
    "add address 10.0.0.1/24 dev tun0: EEXIST (File exists): ipv4: Address already assigned",
  );
});

test("sys error: EPERM and EACCES name CAP_NET_ADMIN", () => {
  for (const errno of [Errno.EPERM, Errno.EACCES]) {
    const e = new SysError("open TUN tun0", errno);
    assert.equal(e.permissionDenied, true);
    assert.match(e.message, /needs CAP_NET_ADMIN/);
  }
  assert.equal(EXIT_NO_PERMISSION, 77);
});

test("sys error: EPERM on a raw socket names CAP_NET_RAW", () => {
  const e = new SysError("open raw IPv6 socket (protocol 4)", Errno.EPERM);
  assert.match(e.message, /needs CAP_NET_RAW/);
  assert.equal(e.permissionDenied, true);
});
