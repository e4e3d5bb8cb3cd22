/** Worker for message_ring_test.ts: a blocking poll loop that echoes ring messages back. */
import { libc } from "../libc.ts";
import { MessageRing, type MessageRingInit } from "../message_ring.ts";
import { runPollLoop } from "../poll_loop.ts";
import { StopSignal, type StopSignalInit } from "../stop_signal.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(data: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent) => {
  const { ring, stop } = e.data as { ring: MessageRingInit; stop: StopSignalInit };
  const c = libc();
  const inbox = MessageRing.attach(ring, c);
  const signal = StopSignal.attach(stop, c);
  const buf = new Uint8Array(65536);
  let sum = 0;
  let count = 0;
  runPollLoop(c, {
    fds: [inbox.wakeFd],
    stop: signal,
    pollMs: 5000,
    onReadable() {
      inbox.clearWake();
      for (let n = inbox.pop(buf); n >= 0; n = inbox.pop(buf)) {
        count++;
        for (let i = 0; i < n; i++) sum += buf[i];
        // Worker -> main while the loop never returns to the event loop.
        if (count % 1000 === 0) scope.postMessage({ kind: "progress", count });
      }
    },
  });
  scope.postMessage({ kind: "done", count, sum });
};
