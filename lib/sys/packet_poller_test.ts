import { test } from "node:test";
import assert from "node:assert/strict";
import { PacketPoller } from "./packet_poller.ts";

test("packet poller: delivers items in order and reads ahead", async () => {
  const queue = [1, 2, 3];
  let calls = 0;
  const p = new PacketPoller(() => {
    calls++;
    return queue.shift() ?? null;
  }, 2);
  assert.equal(await p.next(), 1);
  assert.equal(await p.next(), 2);
  assert.equal(await p.next(), 3);
  const later = p.next();
  setTimeout(() => queue.push(4), 5);
  assert.equal(await later, 4);
  assert.ok(calls >= 5);
  p.close();
  assert.equal(await p.next(), null);
});

test("packet poller: costs nothing without waiters and close releases them", async () => {
  let calls = 0;
  const p = new PacketPoller<number>(() => {
    calls++;
    return null;
  }, 1);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(calls, 0);
  const pending = p.next();
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(calls > 0);
  p.close();
  assert.equal(await pending, null);
});

test("packet poller: read errors reject the waiters", async () => {
  const p = new PacketPoller<number>(() => {
    throw new Error("boom");
  });
  await assert.rejects(p.next(), /boom/);
  p.close();
});
