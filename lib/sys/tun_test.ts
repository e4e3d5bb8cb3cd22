import { test } from "node:test";
import assert from "node:assert/strict";
import { cString, libc } from "./libc.ts";
import { LINUX } from "./linux_constants.ts";
import { openTun, setTunQueueLength, TUN } from "./tun.ts";

test("tun: constants from linux/if_tun.h", () => {
  assert.equal(TUN.TUNSETIFF, 0x400454ca);
  assert.equal(TUN.IFF_TUN | TUN.IFF_NO_PI, 0x1001);
});

test("tun: bad interface names are programmer errors", () => {
  assert.throws(() => openTun({ name: "a-very-long-tun-name" }), TypeError);
  assert.throws(() => openTun({ name: "tun 0" }), TypeError);
});

test("tun: the queue length needs a TUN fd and a positive length", () => {
  const c = libc();
  assert.throws(() => setTunQueueLength(0, 0), RangeError);
  assert.throws(() => setTunQueueLength(0, 1.5), RangeError);
  const fd = c.open(cString("/dev/null"), LINUX.O_RDWR | LINUX.O_CLOEXEC);
  assert.ok(fd >= 0);
  try {
    assert.notEqual(setTunQueueLength(fd, 4096, c), 0, "not a TUN: an errno");
  } finally {
    c.close(fd);
  }
});
