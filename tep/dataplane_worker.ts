/**
 * The TEP's data-plane Worker: a blocking `poll(2)` loop (`runPollLoop`) on the TUN fd and the
 * message ring's eventfd, never returning to its event loop until stopped.
 *
 * - TUN readable: read packets in bursts into fixed slots with headroom (`BatchIo`: one
 *   `io_uring_enter(2)` per burst that also sends the previous burst's outputs, or a `read(2)` and
 *   a `write(2)` per packet where io_uring is not available) and hand each to
 *   {@link TepDataPlane.handlePacket}; outputs are written back to the same TUN (the kernel routes
 *   IPv4 to the IPv4 side and IPv6 to the clients). Outputs built in place in a slot are queued;
 *   the rare ones built elsewhere (ICMP errors, fragments) are written at once, in order. Every
 *   output is sent before the Worker sleeps again. A burst grows while the queue stays full and
 *   shrinks to what arrived, so an idle TEP does not ask for 64 packets to get one.
 * - At start, the TUN's queue is set to `tunQueueLength` packets (the kernel's 500 overflow during
 *   a few ms of scheduling delay at full rate).
 * - Ring readable: drain the main thread's control messages (`ring_messages.ts`).
 * - Every wake-up (at least every 200 ms): {@link TepDataPlane.tick} runs the timers.
 *
 * Worker → main thread goes by `postMessage` (it works while the loop runs): `ready`, `query`,
 * `bindings`, `drop`, `stopped`, `error`. Counters live in the shared stats buffer.
 *
 * @module
 */
import { BatchIo } from "../lib/sys/batch_io.ts";
import { libc } from "../lib/sys/libc.ts";
import { MessageRing, type MessageRingInit } from "../lib/sys/message_ring.ts";
import { runPollLoop } from "../lib/sys/poll_loop.ts";
import { StopSignal, type StopSignalInit } from "../lib/sys/stop_signal.ts";
import { setTunQueueLength } from "../lib/sys/tun.ts";
import {
  type DataPlaneSettings,
  DEFAULT_TUN_QUEUE_LENGTH,
  HEADROOM,
  MAX_PACKET,
  TepDataPlane,
} from "./dataplane.ts";
import { EXTRA, TepStats, WORKER } from "./stats_layout.ts";
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
/**
 * Most packets per burst (one io_uring_enter). 32 slots of 64 KiB in each of the two halves:
 * 4 MiB, within the default RLIMIT_MEMLOCK (8 MiB) that registered buffers count against.
 */
const BURST = 32;
/** Smallest burst asked for. */
const MIN_BURST = 8;

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
    const values = stats.values;
    const qlen = init.settings.tunQueueLength ?? DEFAULT_TUN_QUEUE_LENGTH;
    if (qlen > 0 && setTunQueueLength(fd, qlen, c) === 0) values[WORKER.tunQueueLength] = qlen;
    const io = BatchIo.open(c, {
      fd,
      batch: BURST,
      headroom: HEADROOM,
      maxPacket: MAX_PACKET,
      ioUring: init.settings.ioUring ?? true,
    });
    const ioMode = WORKER.ioUring;
    values[ioMode] = io.fixedBuffers ? 2 : io.usingIoUring ? 1 : 0;
    const dp = new TepDataPlane(init.settings, {
      writePacket(buf, off, len) {
        return io.write(buf, off, len);
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
    const mem = io.memory;
    const wakes = WORKER.loopWakes;
    const calls = WORKER.ioCalls;
    const txP = WORKER.txPackets;
    const txB = WORKER.txBytes;
    const txFailed = EXTRA["tun-write-failed"];
    let failedSeen = 0;
    let failedBytesSeen = 0;
    /** A queued write that failed was counted as sent: count it as `tun-write-failed`. */
    const settle = () => {
      const f = io.writesFailed - failedSeen;
      if (f === 0) return;
      const b = io.writeFailedBytes - failedBytesSeen;
      failedSeen = io.writesFailed;
      failedBytesSeen = io.writeFailedBytes;
      values[txP] -= f;
      values[txB] -= b;
      values[txFailed] += f;
    };
    let want = MIN_BURST;
    post({ k: "ready" });
    try {
      runPollLoop(c, {
        fds: [fd, inbox.wakeFd],
        stop,
        pollMs: 200,
        onReadable(i) {
          if (i === 0) {
            // A bounded batch, so ring messages and timers are not starved by a flood.
            for (let budget = BATCH; budget > 0;) {
              const n = io.read(want < budget ? want : budget);
              if (n === 0) break;
              const now = performance.now();
              for (let k = 0; k < n; k++) dp.handlePacket(mem, io.offset(k), io.length(k), now);
              budget -= n;
              if (n < want) {
                // The queue is drained: next time ask for about what came.
                want = n * 2 < MIN_BURST ? MIN_BURST : n * 2 > BURST ? BURST : n * 2;
                break;
              }
              want = want * 2 > BURST ? BURST : want * 2;
            }
            io.flush();
            settle();
            values[calls] = io.calls;
            // io_uring may have been given up (a kernel that refuses a read kind on the TUN).
            values[ioMode] = io.fixedBuffers ? 2 : io.usingIoUring ? 1 : 0;
            return;
          }
          inbox.clearWake();
          const now = performance.now();
          for (let n = inbox.pop(msg); n >= 0; n = inbox.pop(msg)) dp.message(msg, n, now);
          io.flush();
          settle();
        },
        onWake() {
          values[wakes]++;
          dp.tick(performance.now());
          io.flush();
          settle();
        },
      });
    } finally {
      io.close();
    }
    dp.publish(performance.now());
    post({ k: "stopped" });
  } catch (err) {
    post({ k: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
