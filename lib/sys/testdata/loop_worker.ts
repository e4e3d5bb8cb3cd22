/** Worker for poll_loop_test.ts: counts eventfd reads until stopped. */
import { libc } from "../libc.ts";
import { runPollLoop } from "../poll_loop.ts";
import { StopSignal, type StopSignalInit } from "../stop_signal.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(data: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent) => {
  const { fd, stop } = e.data as { fd: number; stop: StopSignalInit };
  const c = libc();
  const buf = new Uint8Array(8);
  let total = 0;
  let wakes = 0;
  scope.postMessage({ started: true });
  runPollLoop(c, {
    fds: [fd],
    stop: StopSignal.attach(stop, c),
    pollMs: 5000,
    onReadable() {
      while (c.read(fd, buf, 8) === 8) total += buf[0];
    },
    onWake() {
      wakes++;
    },
  });
  scope.postMessage({ total, wakes });
};
