/**
 * Worker of `probe_tun.ts`: the fast loop shape (nonblocking fd, read until EAGAIN, poll with a
 * stop signal), answering echo requests in place with zero allocation per packet.
 */
import { libc } from "../../lib/sys/libc.ts";
import { runPollLoop } from "../../lib/sys/poll_loop.ts";
import { StopSignal, type StopSignalInit } from "../../lib/sys/stop_signal.ts";
import { answerEcho } from "./echo.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(data: unknown): void;
  close(): void;
}
const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent) => {
  const { fd, stop } = e.data as { fd: number; stop: StopSignalInit };
  const c = libc();
  const signal = StopSignal.attach(stop, c);
  const buf = new Uint8Array(65536);
  let seen = 0;
  let answered = 0;
  runPollLoop(c, {
    fds: [fd],
    stop: signal,
    onReadable() {
      for (;;) {
        const n = c.read(fd, buf, buf.length);
        if (n < 0) return;
        seen++;
        if (answerEcho(buf, n) && c.write(fd, buf, n) === n) answered++;
      }
    },
  });
  scope.postMessage({ seen, answered });
};
