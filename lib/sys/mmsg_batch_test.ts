import process from "node:process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno } from "./errno.ts";
import { libc } from "./libc.ts";
import { LINUX } from "./linux_constants.ts";
import { MmsgBatch } from "./mmsg_batch.ts";
import { SOCKADDR_IN6_LEN, writeSockaddrIn6 } from "./raw6_socket.ts";

const LOOPBACK = new Uint8Array(16);
LOOPBACK[15] = 1;

/** A nonblocking UDP socket bound to [::1]:port, and its port. */
function udp6(): { fd: number; port: number } {
  const c = libc();
  const fd = c.socket(
    LINUX.AF_INET6,
    LINUX.SOCK_DGRAM | LINUX.SOCK_NONBLOCK | LINUX.SOCK_CLOEXEC,
    0,
  );
  assert.ok(fd >= 0, `socket errno ${c.errno()}`);
  const sa = new Uint8Array(SOCKADDR_IN6_LEN);
  writeSockaddrIn6(sa, LOOPBACK);
  for (let i = 0; i < 200; i++) {
    const port = 20000 + ((process.pid * 7 + i * 131) % 40000);
    sa[2] = port >> 8;
    sa[3] = port & 0xff;
    if (c.bind(fd, sa, SOCKADDR_IN6_LEN) === 0) return { fd, port };
    assert.equal(c.errno(), Errno.EADDRINUSE);
  }
  throw new Error("no free UDP port on ::1");
}

function mapped(length: number): { memory: Uint8Array; address: number } {
  const c = libc();
  const m = c.mmap(length, 0x3, 0x22, -1, 0);
  assert.ok(m !== null);
  return { memory: new Uint8Array(m.buffer), address: m.address };
}

function roundTrip(mmsg: boolean): void {
  const c = libc();
  const a = udp6();
  const b = udp6();
  const mem = mapped(64 * 1024);
  const m = MmsgBatch.open(c, {
    fd: a.fd,
    batch: 8,
    ...mem,
    rxOffset: 32 * 1024,
    rxStride: 2048,
    rxBytes: 1500,
    port: b.port,
    mmsg,
  });
  try {
    assert.equal(m.usingMmsg, mmsg);
    // Five packets from scattered offsets, one burst.
    for (let i = 0; i < 5; i++) {
      const off = 100 + i * 3001;
      mem.memory.fill(i + 1, off, off + 40 + i);
      assert.ok(m.queueSend(off, 40 + i, LOOPBACK, 0));
    }
    assert.equal(m.queued, 5);
    assert.equal(m.flushSends(), 0);
    assert.equal(m.queued, 0);
    const buf = new Uint8Array(2048);
    for (let i = 0; i < 5; i++) {
      const n = c.recvfrom(b.fd, buf, buf.length, 0, null, null);
      assert.equal(n, 40 + i, "in order, whole");
      assert.ok(buf.subarray(0, n).every((x) => x === i + 1));
    }
    assert.equal(c.recvfrom(b.fd, buf, buf.length, 0, null, null), -1);

    // Back: a burst received at once, each in its slot, with its source.
    assert.equal(m.recv(8), 0, "nothing waiting");
    const to = new Uint8Array(SOCKADDR_IN6_LEN);
    writeSockaddrIn6(to, LOOPBACK);
    to[2] = a.port >> 8;
    to[3] = a.port & 0xff;
    for (let i = 0; i < 6; i++) {
      buf.fill(0x10 + i);
      const len = i === 5 ? 1800 : 60 + i; // the last one longer than a slot
      assert.equal(c.sendto(b.fd, buf, len, 0, to, SOCKADDR_IN6_LEN), len);
    }
    assert.equal(m.recv(4), 4, "at most what was asked");
    for (let i = 0; i < 4; i++) {
      assert.equal(m.length(i), 60 + i);
      const off = m.rxOffset(i);
      assert.equal(off, 32 * 1024 + i * 2048);
      assert.ok(mem.memory.subarray(off, off + 60 + i).every((x) => x === 0x10 + i));
      const from = m.fromOffset(i);
      assert.deepEqual(m.names.subarray(from, from + 16), LOOPBACK);
    }
    assert.equal(m.recv(8), 2);
    assert.equal(m.length(0), 64);
    assert.equal(m.length(1), 1500, "truncated to the slot");
    assert.equal(m.recv(8), 0);
    assert.equal(m.recvErrors, 0);
  } finally {
    m.close();
    m.close();
    c.close(a.fd);
    c.close(b.fd);
    c.munmap(mem.address, mem.memory.length);
  }
}

test("sys mmsg batch: a burst out in one sendmmsg, a burst in with one recvmmsg", () => {
  roundTrip(true);
});

test("sys mmsg batch: the per-packet fallback behaves the same", () => {
  roundTrip(false);
});

test("sys mmsg batch: a full queue refuses, failed sends are counted one by one", () => {
  const c = libc();
  const mem = mapped(8192);
  for (const mmsg of [true, false]) {
    const m = MmsgBatch.open(c, {
      fd: -1,
      batch: 3,
      ...mem,
      rxOffset: 0,
      rxStride: 1024,
      rxBytes: 1024,
      mmsg,
    });
    for (let i = 0; i < 3; i++) assert.ok(m.queueSend(0, 20, LOOPBACK, 0));
    assert.equal(m.queueSend(0, 20, LOOPBACK, 0), false);
    assert.equal(m.flushSends(), 3);
    assert.equal(m.lastSendErrno, Errno.EBADF);
    assert.equal(m.flushSends(), 0, "nothing left queued");
    assert.equal(m.recv(3), 0);
    assert.equal(m.recvErrors, 1);
    m.close();
  }
  c.munmap(mem.address, mem.memory.length);
});

test("sys mmsg batch: receive slots must fit the memory", () => {
  const c = libc();
  const memory = new Uint8Array(4096);
  assert.throws(
    () =>
      MmsgBatch.open(c, {
        fd: -1,
        batch: 4,
        memory,
        address: 0,
        rxOffset: 0,
        rxStride: 1500,
        rxBytes: 1500,
      }),
    RangeError,
  );
  assert.throws(
    () =>
      MmsgBatch.open(c, {
        fd: -1,
        batch: 0,
        memory,
        address: 0,
        rxOffset: 0,
        rxStride: 1,
        rxBytes: 1,
      }),
    RangeError,
  );
});
