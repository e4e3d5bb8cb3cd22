import { test } from "node:test";
import assert from "node:assert/strict";
import { libc } from "./libc.ts";
import { LINUX } from "./linux_constants.ts";
import { runPollLoop } from "./poll_loop.ts";
import { PollSet } from "./poll_set.ts";
import { StopSignal } from "./stop_signal.ts";
import { SysError } from "./sys_error.ts";

function eventfd(): number {
  const fd = libc().eventfd(0, LINUX.EFD_NONBLOCK | LINUX.EFD_CLOEXEC);
  assert.ok(fd >= 0);
  return fd;
}

test("poll loop: drains readable fds and stops on the signal", () => {
  const c = libc();
  const fd = eventfd();
  const stop = StopSignal.create(c);
  try {
    c.write(fd, new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0]), 8);
    const buf = new Uint8Array(8);
    let got = 0;
    let wakes = 0;
    runPollLoop(c, {
      fds: [fd],
      stop,
      pollMs: 5,
      onReadable(i) {
        assert.equal(i, 0);
        while (c.read(fd, buf, 8) === 8) got += buf[0];
      },
      onWake() {
        if (++wakes === 3) stop.stop();
      },
    });
    assert.equal(got, 5);
    assert.equal(wakes, 3);
    assert.equal(stop.stopped, true);
  } finally {
    stop.close();
    c.close(fd);
  }
});

test("poll loop: an invalid fd is an error, not a spin", () => {
  const c = libc();
  const stop = StopSignal.create(c);
  try {
    assert.throws(
      () => runPollLoop(c, { fds: [987654], stop, pollMs: 5, onReadable() {} }),
      (e: unknown) => e instanceof SysError && e.code === "EBADF",
    );
  } finally {
    stop.close();
  }
});

test("poll loop: poll set reports revents per fd", () => {
  const c = libc();
  const a = eventfd();
  const b = eventfd();
  try {
    c.write(b, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), 8);
    const set = new PollSet([a, b]);
    assert.equal(set.wait(c, 0), 1);
    assert.equal(set.revents(0), 0);
    assert.equal(set.revents(1) & LINUX.POLLIN, LINUX.POLLIN);
    assert.equal(set.fd(1), b);
  } finally {
    c.close(a);
    c.close(b);
  }
});

test("poll loop: a Worker runs the loop and stops at once when signalled", async () => {
  const c = libc();
  const fd = eventfd();
  const stop = StopSignal.create(c);
  const worker = new Worker(new URL("./testdata/loop_worker.ts", import.meta.url).href, {
    type: "module",
  });
  try {
    const messages: Record<string, number | boolean>[] = [];
    let wake: () => void = () => {};
    worker.onmessage = (e: MessageEvent) => {
      messages.push(e.data);
      wake();
    };
    const nextMessage = async () => {
      while (messages.length === 0) await new Promise<void>((r) => (wake = r));
      return messages.shift()!;
    };
    worker.postMessage({ fd, stop: stop.init });
    assert.equal((await nextMessage()).started, true);
    const one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
    for (let i = 0; i < 10; i++) c.write(fd, one, 8);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    stop.stop();
    const done = await nextMessage();
    // pollMs is 5 s: only the eventfd wake-up can end the loop this fast.
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(done.total, 10);
  } finally {
    worker.terminate();
    stop.close();
    c.close(fd);
  }
});
