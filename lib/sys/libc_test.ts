import { test } from "node:test";
import assert from "node:assert/strict";
import { cString, libc } from "./libc.ts";
import { Errno } from "./errno.ts";
import { readPacket, setNonBlocking, writePacket } from "./fd_io.ts";
import { LINUX } from "./linux_constants.ts";
import { runtimeName } from "./runtime.ts";

test("sys libc: opens on this runtime and reports errno", () => {
  const c = libc();
  assert.equal(c.runtime, runtimeName());
  assert.equal(libc(), c);
  assert.equal(c.open(cString("/nonexistent/dstm"), LINUX.O_RDWR), -1);
  assert.equal(c.errno(), Errno.ENOENT);
  assert.equal(c.close(-5), -1);
  assert.equal(c.errno(), Errno.EBADF);
});

test("sys libc: packet reads and writes honour subarray offsets and lengths", () => {
  const c = libc();
  const fd = c.open(cString("/dev/zero"), LINUX.O_RDWR | LINUX.O_CLOEXEC);
  assert.ok(fd >= 0);
  try {
    const buf = new Uint8Array(16).fill(7);
    assert.equal(readPacket(c, fd, buf.subarray(4, 8)), 4);
    assert.deepEqual([...buf], [7, 7, 7, 7, 0, 0, 0, 0, 7, 7, 7, 7, 7, 7, 7, 7]);
    buf.fill(7);
    assert.equal(c.read(fd, buf, 3), 3);
    assert.deepEqual([...buf.subarray(0, 4)], [0, 0, 0, 7]);
    assert.equal(writePacket(c, fd, buf, 16), 16);
  } finally {
    c.close(fd);
  }
  assert.equal(readPacket(c, fd, new Uint8Array(4)), -Errno.EBADF);
});

test("sys libc: eventfd, nonblocking flag and EAGAIN", () => {
  const c = libc();
  const fd = c.eventfd(0, LINUX.EFD_CLOEXEC);
  assert.ok(fd >= 0);
  try {
    setNonBlocking(c, fd, true);
    const v = new Uint8Array(8);
    assert.equal(readPacket(c, fd, v), -Errno.EAGAIN);
    v[0] = 3;
    assert.equal(writePacket(c, fd, v, 8), 8);
    v.fill(0);
    assert.equal(readPacket(c, fd, v), 8);
    assert.equal(v[0], 3);
    assert.equal(c.fcntl(fd, LINUX.F_GETFL, 0) & LINUX.O_NONBLOCK, LINUX.O_NONBLOCK);
    setNonBlocking(c, fd, false);
    assert.equal(c.fcntl(fd, LINUX.F_GETFL, 0) & LINUX.O_NONBLOCK, 0);
  } finally {
    c.close(fd);
  }
});
