import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeTun } from "./fake_tun.ts";
import type { TunDevice } from "./tun_device.ts";
import { SysError } from "./sys_error.ts";

// Compile-time check: the fake satisfies the interface.
const asDevice = (f: FakeTun): TunDevice => f;

test("fake tun: packets both ways, copies kept", async () => {
  const fake = new FakeTun("tun7");
  const dev = asDevice(fake);
  assert.equal(dev.name, "tun7");
  const pending = dev.read();
  const p = new Uint8Array([0x45, 1, 2]);
  fake.inject(p);
  p[0] = 0;
  assert.deepEqual(await pending, new Uint8Array([0x45, 1, 2]));
  fake.inject(new Uint8Array([0x60]));
  assert.deepEqual(await dev.read(), new Uint8Array([0x60]));
  const w = new Uint8Array([9, 9]);
  assert.equal(dev.write(w), true);
  w[0] = 0;
  assert.deepEqual(fake.takeWritten(), [new Uint8Array([9, 9])]);
  assert.deepEqual(fake.written, []);
  fake.full = true;
  assert.equal(dev.write(w), false);
});

test("fake tun: close ends reads and refuses writes", async () => {
  const fake = new FakeTun();
  const pending = fake.read();
  fake.close();
  assert.equal(await pending, null);
  assert.equal(await fake.read(), null);
  assert.equal(fake.closed, true);
  assert.throws(() => fake.write(new Uint8Array(1)), SysError);
  fake.close();
});
