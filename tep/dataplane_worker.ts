/**
 * The TEP's data-plane Worker: a blocking `poll(2)` loop (`runPollLoop`) on the TUN fd and the
 * message ring's eventfd, never returning to its event loop until stopped.
 *
 * - TUN readable: read packets until EAGAIN into one preallocated buffer (with headroom) and hand
 *   each to {@link TepDataPlane.packet}; outputs are written back to the same TUN (the kernel
 *   routes IPv4 to the IPv4 side and IPv6 to the clients).
 * - Ring readable: drain the main thread's control messages (`ring_messages.ts`).
 * - Every wake-up (at least every 200 ms): {@link TepDataPlane.tick} runs the timers.
 *
 * Worker → main thread goes by `postMessage` (it works while the loop runs): `ready`, `query`,
 * `bindings`, `drop`, `stopped`, `error`. Counters live in the shared stats buffer.
 *
 * @module
 */
import { libc } from "../lib/sys/libc.ts";
import { MessageRing, type MessageRingInit } from "../lib/sys/message_ring.ts";
import { runPollLoop } from "../lib/sys/poll_loop.ts";
import { StopSignal, type StopSignalInit } from "../lib/sys/stop_signal.ts";
import { type DataPlaneSettings, MAX_PACKET, TepDataPlane } from "./dataplane.ts";
import { TepStats, WORKER } from "./stats_layout.ts";
import { ViewCache } from "./view_cache.ts";
import { RING_MESSAGE_MAX } from "./ring_messages.ts";

/** What the main thread posts to start the Worker. */
export interface DataPlaneWorkerInit {
  /** The TUN fd (nonblocking). */
  readonly tunFd: number;
  /** Main → Worker control messages. */
  readonly ring: MessageRingInit;
  /** Stop request. */
  readonly stop: StopSignalInit;
  /** The shared counters (`TepStats.BYTES`). */
  readonly stats: SharedArrayBuffer;
  /** The data-plane settings. */
  readonly settings: DataPlaneSettings;
}

/** Messages the Worker posts to the main thread. */
export type DataPlaneWorkerEvent =
  | { readonly k: "ready" }
  | { readonly k: "query"; readonly ipv4: number; readonly refresh: boolean }
  | { readonly k: "bindings"; readonly id: number; readonly entries: unknown[] }
  | { readonly k: "drop"; readonly sample: unknown }
  | { readonly k: "published"; readonly id: number }
  | { readonly k: "stopped" }
  | { readonly k: "error"; readonly message: string };

/** Packets read per readable event before the loop looks at the ring and the timers. */
const BATCH = 256;

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(data: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;

function post(e: DataPlaneWorkerEvent): void {
  scope.postMessage(e);
}

scope.onmessage = (e: MessageEvent) => {
  scope.onmessage = null;
  const init = e.data as DataPlaneWorkerInit;
  try {
    const c = libc();
    const fd = init.tunFd;
    const inbox = MessageRing.attach(init.ring, c);
    const stop = StopSignal.attach(init.stop, c);
    const stats = new TepStats(init.stats);
    const views = new ViewCache();
    const dp = new TepDataPlane(init.settings, {
      writePacket(buf, off, len) {
        return c.write(fd, views.view(buf, off), len) === len;
      },
      requestQuery(ipv4, refresh) {
        post({ k: "query", ipv4, refresh });
      },
      bindingsDump(id, entries) {
        post({ k: "bindings", id, entries });
      },
      dropSample(sample) {
        post({ k: "drop", sample });
      },
      published(id) {
        post({ k: "published", id });
      },
    }, stats);
    const msg = new Uint8Array(RING_MESSAGE_MAX + 64);
    const rxView = dp.rxView;
    const wakes = WORKER.loopWakes;
    const values = stats.values;
    post({ k: "ready" });
    runPollLoop(c, {
      fds: [fd, inbox.wakeFd],
      stop,
      pollMs: 200,
      onReadable(i) {
        if (i === 0) {
          const now = performance.now();
          // A bounded batch, so ring messages and timers are not starved by a flood.
          for (let k = 0; k < BATCH; k++) {
            const n = c.read(fd, rxView, MAX_PACKET);
            if (n <= 0) return;
            dp.packet(n, now);
          }
          return;
        }
        inbox.clearWake();
        const now = performance.now();
        for (let n = inbox.pop(msg); n >= 0; n = inbox.pop(msg)) dp.message(msg, n, now);
      },
      onWake() {
        values[wakes]++;
        dp.tick(performance.now());
      },
    });
    dp.publish(performance.now());
    post({ k: "stopped" });
  } catch (err) {
    post({ k: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
