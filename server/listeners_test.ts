import { test } from "node:test";
import assert from "node:assert/strict";
import { type BunSocket, BunTcpTransport } from "./listeners.ts";

/** A Bun-like socket whose kernel buffer takes `room` bytes until `drain` is simulated. */
class FakeSocket implements BunSocket {
  readonly remoteAddress = "2001:db8::10";
  readonly remotePort = 40000;
  data: BunTcpTransport | undefined;
  room: number;
  readonly sent: number[] = [];
  ended = 0;
  terminated = 0;
  constructor(room: number) {
    this.room = room;
  }
  write(b: Uint8Array): number {
    const n = Math.min(this.room, b.length);
    for (let i = 0; i < n; i++) this.sent.push(b[i]);
    this.room -= n;
    return n;
  }
  end(): void {
    this.ended++;
  }
  terminate(): void {
    this.terminated++;
  }
}

const bytes = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => from + i);

test("bun transport: a partial write queues the rest, in order, until drain", () => {
  const s = new FakeSocket(3);
  const t = new BunTcpTransport(s);
  assert.equal(t.peerAddress, "2001:db8::10");
  assert.equal(t.peerPort, 40000);
  const first = bytes(0, 5);
  t.send(first);
  first.fill(99); // the caller may reuse its buffer: the queued rest is a copy
  t.send(bytes(5, 4));
  assert.deepEqual(s.sent, [0, 1, 2]);
  assert.equal(t.backlog(), 6);
  s.room = 4;
  t.drained();
  assert.deepEqual(s.sent, [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(t.backlog(), 2);
  s.room = 100;
  t.drained();
  assert.deepEqual(s.sent, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(t.backlog(), 0);
  assert.equal(s.ended, 0);
  assert.ok(t.markClosed());
});

test("bun transport: end() waits for the queue, then closes once; nothing is sent after", () => {
  const s = new FakeSocket(2);
  const t = new BunTcpTransport(s);
  t.send(bytes(10, 4));
  t.end();
  assert.equal(s.ended, 0, "not before the queue is written");
  t.send(bytes(20, 2)); // after end(): dropped
  s.room = 100;
  t.drained();
  assert.deepEqual(s.sent, [10, 11, 12, 13]);
  assert.equal(s.ended, 1);
  t.end();
  assert.equal(s.ended, 1);
  assert.ok(t.markClosed());
  assert.ok(!t.markClosed(), "closed only once");
  t.send(bytes(30, 1));
  t.destroy();
  assert.deepEqual(s.sent, [10, 11, 12, 13]);
  assert.equal(s.terminated, 0);
});

test("bun transport: the peer's close ends ours at once when nothing waits", () => {
  const s = new FakeSocket(100);
  const t = new BunTcpTransport(s);
  t.send(bytes(0, 3));
  t.peerEnded();
  assert.equal(s.ended, 1);
  t.peerEnded();
  t.end();
  assert.equal(s.ended, 1);
  assert.ok(t.markClosed());
});

test("bun transport: push room follows the unsent bytes", () => {
  const s = new FakeSocket(0);
  const t = new BunTcpTransport(s);
  assert.ok(t.pushRoom() > 0);
  t.send(new Uint8Array(70 * 1024));
  assert.equal(t.backlog(), 70 * 1024);
  assert.equal(t.pushRoom(), 0);
  s.room = 1 << 20;
  t.drained();
  assert.equal(t.backlog(), 0);
  assert.ok(t.pushRoom() > 0);
  assert.ok(t.markClosed());
});
