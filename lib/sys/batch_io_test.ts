import { test } from "node:test";
import assert from "node:assert/strict";
import { BatchIo } from "./batch_io.ts";
import { Errno } from "./errno.ts";
import { IoUring } from "./io_uring.ts";
import { libc } from "./libc.ts";
import { LINUX } from "./linux_constants.ts";

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;

/** A nonblocking SOCK_SEQPACKET pair: packets keep their boundaries, like a TUN. */
function packetPair(): [number, number] {
  const c = libc();
  const fds = new Uint8Array(8);
  const r = c.socketpair(
    AF_UNIX,
    SOCK_SEQPACKET | LINUX.SOCK_NONBLOCK | LINUX.SOCK_CLOEXEC,
    0,
    fds,
  );
  assert.equal(r, 0, `socketpair errno ${c.errno()}`);
  const v = new Int32Array(fds.buffer);
  return [v[0], v[1]];
}

function ioUringWorks(): boolean {
  try {
    IoUring.open(libc(), 4).close();
    return true;
  } catch {
    return false;
  }
}

function burstAndReply(ioUring: boolean, fixedBuffers = true, mapped = false): void {
  const c = libc();
  const [a, b] = packetPair();
  const io = BatchIo.open(c, {
    fd: a,
    batch: 8,
    headroom: 48,
    maxPacket: 2048,
    ioUring,
    fixedBuffers,
    mapped,
  });
  try {
    assert.equal(io.usingIoUring, ioUring && ioUringWorks(), String(io.ioUringError));
    assert.equal(
      io.address !== undefined,
      io.usingIoUring || mapped,
      "mapped memory has an address",
    );
    if (!fixedBuffers) assert.equal(io.fixedBuffers, false);
    assert.equal(io.read(8), 0, "nothing waiting");
    const pkt = new Uint8Array(100);
    for (let i = 0; i < 5; i++) {
      pkt.fill(i + 1);
      assert.equal(c.write(b, pkt, 10 + i), 10 + i);
    }
    assert.equal(io.read(8), 5);
    for (let i = 0; i < 5; i++) {
      assert.equal(io.length(i), 10 + i);
      const off = io.offset(i);
      assert.ok(off >= 48);
      assert.equal(io.memory[off], i + 1);
      // Reply in place with a 4-byte header in the headroom: a queued write from the slot.
      io.memory.fill(0xee, off - 4, off);
      assert.equal(io.write(io.memory, off - 4, io.length(i) + 4), true);
    }
    // A write from another buffer goes out at once, after the queued ones.
    const other = new Uint8Array(16).fill(0x77);
    assert.equal(io.write(other, 8, 8), true);
    assert.equal(io.queuedWrites, 0);
    const rx = new Uint8Array(4096);
    for (let i = 0; i < 5; i++) {
      const n = c.read(b, rx, rx.length);
      assert.equal(n, 14 + i);
      assert.deepEqual([...rx.subarray(0, 5)], [0xee, 0xee, 0xee, 0xee, i + 1]);
    }
    assert.equal(c.read(b, rx, rx.length), 8);
    assert.equal(rx[0], 0x77);
    assert.equal(c.read(b, rx, rx.length), -1);
    assert.equal(c.errno(), Errno.EAGAIN);
    // A queued write with nothing to read next: flush sends it.
    assert.equal(c.write(b, pkt, 3), 3);
    assert.equal(io.read(8), 1);
    io.write(io.memory, io.offset(0), 3);
    assert.equal(io.flush(), ioUring && io.usingIoUring ? 1 : 0);
    assert.equal(c.read(b, rx, rx.length), 3);
    assert.equal(io.writesFailed, 0);
    assert.equal(io.readErrors, 0);
  } finally {
    io.close();
    c.close(a);
    c.close(b);
  }
}

test("sys batch io: a burst is read into slots and replies go out in order (io_uring)", () => {
  burstAndReply(true);
});

test("sys batch io: the same through io_uring without registered buffers", () => {
  burstAndReply(true, false);
});

test("sys batch io: the same with plain read and write", () => {
  burstAndReply(false);
});

test("sys batch io: the same with plain calls on mapped slots (an address for sendmmsg)", () => {
  burstAndReply(false, false, true);
});

test("sys batch io: more packets than a burst wait for the next read; slots alternate", () => {
  const c = libc();
  const [a, b] = packetPair();
  const io = BatchIo.open(c, { fd: a, batch: 4, maxPacket: 256 });
  try {
    const pkt = new Uint8Array(32);
    for (let i = 0; i < 6; i++) {
      pkt[0] = i;
      c.write(b, pkt, 32);
    }
    assert.equal(io.read(4), 4);
    const firstOffsets = [0, 1, 2, 3].map((i) => io.offset(i));
    assert.deepEqual([0, 1, 2, 3].map((i) => io.memory[io.offset(i)]), [0, 1, 2, 3]);
    assert.equal(io.read(4), 2);
    assert.deepEqual([io.memory[io.offset(0)], io.memory[io.offset(1)]], [4, 5]);
    assert.ok(!firstOffsets.includes(io.offset(0)), "the next burst uses the other half");
    assert.equal(io.read(4), 0);
  } finally {
    io.close();
    c.close(a);
    c.close(b);
  }
});

test("sys batch io: failed queued writes are counted with their bytes", () => {
  const c = libc();
  const [a, b] = packetPair();
  const io = BatchIo.open(c, { fd: a, batch: 4, headroom: 0, maxPacket: 65535 });
  try {
    // A packet larger than the socket's send buffer fails with EMSGSIZE.
    const small = new Uint8Array(4);
    new DataView(small.buffer).setInt32(0, 4096, true);
    assert.equal(c.setsockopt(a, LINUX.SOL_SOCKET, LINUX.SO_SNDBUF, small, 4), 0);
    c.write(b, new Uint8Array(64), 64);
    assert.equal(io.read(4), 1);
    io.write(io.memory, io.offset(0), 60000);
    io.flush();
    const other = new Uint8Array(60000);
    assert.equal(io.writesFailed, 1, "the queued write, counted when it was sent");
    assert.equal(io.writeFailedBytes, 60000);
    assert.equal(io.lastWriteErrno, Errno.EMSGSIZE);
    io.lastWriteErrno = 0;
    assert.equal(io.write(other, 0, 60000), false, "a write made at once reports by its result");
    assert.equal(io.writesFailed, 1);
    assert.equal(io.lastWriteErrno, Errno.EMSGSIZE);
  } finally {
    io.close();
    c.close(a);
    c.close(b);
  }
});

test("sys batch io: option errors are programmer errors", () => {
  assert.throws(() => BatchIo.open(libc(), { fd: 0, batch: 0 }), RangeError);
  assert.throws(() => BatchIo.open(libc(), { fd: 0, batch: 1000 }), RangeError);
  assert.throws(() => IoUring.open(libc(), 3), RangeError);
});
