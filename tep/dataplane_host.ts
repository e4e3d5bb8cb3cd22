/**
 * The main thread's side of the data-plane Worker: starts `dataplane_worker.ts` with the TUN fd,
 * the message ring, the stop signal and the shared counters; sends control messages (with a
 * backlog when the ring is full); answers the Worker's events; stops it.
 *
 * @module
 */
import { workerModuleUrls } from "../lib/sys/worker_url.ts";
import { MessageRing } from "../lib/sys/message_ring.ts";
import { StopSignal } from "../lib/sys/stop_signal.ts";
import type { BindingDumpEntry, DataPlaneSettings, DropSample } from "./dataplane.ts";
import type { DataPlaneWorkerEvent, DataPlaneWorkerInit } from "./dataplane_worker.ts";
import { RING_MESSAGE_MAX, type RingMessage, writeRingMessage } from "./ring_messages.ts";
import { TepStats } from "./stats_layout.ts";

/** What the host reports to the daemon. */
export interface DataPlaneHostEvents {
  /** The Worker wants `ipv4` (unsigned) looked up. */
  onQuery(ipv4: number, refresh: boolean): void;
  /** A sampled drop. */
  onDrop(sample: DropSample): void;
  /** The Worker failed (it has stopped). */
  onError(message: string): void;
}

/** Ring size: room for thousands of control messages. */
const RING_BYTES = 1 << 20;

/** A running data-plane Worker. */
export class DataPlaneHost {
  /** The shared counters. */
  readonly stats: TepStats;
  readonly #worker: Worker;
  readonly #ring: MessageRing;
  readonly #stop: StopSignal;
  readonly #scratch = new Uint8Array(RING_MESSAGE_MAX);
  readonly #backlog: RingMessage[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #nextDump = 1;
  readonly #dumps = new Map<number, (e: BindingDumpEntry[]) => void>();
  #stopped: Promise<void>;
  #resolveStopped!: () => void;
  #running = true;
  /** Messages that waited in the backlog because the ring was full. */
  backlogged = 0;

  private constructor(worker: Worker, ring: MessageRing, stop: StopSignal, stats: TepStats) {
    this.#worker = worker;
    this.#ring = ring;
    this.#stop = stop;
    this.stats = stats;
    this.#stopped = new Promise((r) => (this.#resolveStopped = r));
  }

  /**
   * Start the Worker on `tunFd` and resolve once it runs its loop. Rejects if it fails to start
   * (bad settings, FFI) within `timeoutMs`.
   */
  static async start(
    tunFd: number,
    settings: DataPlaneSettings,
    events: DataPlaneHostEvents,
    timeoutMs = 15_000,
  ): Promise<DataPlaneHost> {
    let last: Error | undefined;
    for (const url of workerModuleUrls(import.meta.url, "dataplane_worker.ts", "tep")) {
      try {
        return await DataPlaneHost.#start(url, tunFd, settings, events, timeoutMs);
      } catch (e) {
        last = e as Error;
        // Only a missing module means "try where else the build may have put it".
        if (!/ModuleNotFound|Module not found|Cannot find module/i.test(last.message)) throw e;
      }
    }
    throw last ?? new Error("no data-plane Worker module");
  }

  static #start(
    url: string,
    tunFd: number,
    settings: DataPlaneSettings,
    events: DataPlaneHostEvents,
    timeoutMs: number,
  ): Promise<DataPlaneHost> {
    const ring = MessageRing.create(RING_BYTES);
    const stop = StopSignal.create();
    const stats = new TepStats(new SharedArrayBuffer(TepStats.BYTES));
    const worker = new Worker(url, { type: "module" });
    const host = new DataPlaneHost(worker, ring, stop, stats);
    return new Promise((resolve, reject) => {
      let started = false;
      const timer = setTimeout(() => {
        if (started) return;
        host.#dispose();
        reject(new Error(`the data-plane Worker did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      worker.onmessage = (e: MessageEvent) => {
        const ev = e.data as DataPlaneWorkerEvent;
        switch (ev.k) {
          case "ready":
            started = true;
            clearTimeout(timer);
            resolve(host);
            break;
          case "query":
            events.onQuery(ev.ipv4, ev.refresh);
            break;
          case "bindings": {
            const f = host.#dumps.get(ev.id);
            host.#dumps.delete(ev.id);
            f?.(ev.entries as BindingDumpEntry[]);
            break;
          }
          case "published": {
            const f = host.#dumps.get(ev.id);
            host.#dumps.delete(ev.id);
            f?.([]);
            break;
          }
          case "drop":
            events.onDrop(ev.sample as DropSample);
            break;
          case "stopped":
            host.#running = false;
            host.#resolveStopped();
            break;
          case "error":
            host.#running = false;
            host.#resolveStopped();
            if (!started) {
              clearTimeout(timer);
              host.#dispose();
              reject(new Error(`data-plane Worker: ${ev.message}`));
            } else events.onError(ev.message);
            break;
        }
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault?.();
        host.#running = false;
        host.#resolveStopped();
        if (!started) {
          clearTimeout(timer);
          host.#dispose();
          reject(new Error(`data-plane Worker: ${e.message}`));
        } else events.onError(e.message);
      };
      const init: DataPlaneWorkerInit = {
        tunFd,
        ring: ring.init,
        stop: stop.init,
        stats: stats.buffer as SharedArrayBuffer,
        settings,
      };
      worker.postMessage(init);
    });
  }

  /** True while the Worker runs its loop. */
  get running(): boolean {
    return this.#running;
  }

  /** Messages waiting for room in the ring. */
  get backlog(): number {
    return this.#backlog.length;
  }

  /** Send a control message (kept in order; queued while the ring is full). */
  send(m: RingMessage): void {
    if (this.#backlog.length === 0 && this.#push(m)) return;
    this.#backlog.push(m);
    this.backlogged++;
    this.#scheduleFlush();
  }

  #push(m: RingMessage): boolean {
    const n = writeRingMessage(m, this.#scratch);
    if (n === 0) throw new TypeError(`Cannot encode ring message ${m.kind}`);
    return this.#ring.push(this.#scratch, n);
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== undefined) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      while (this.#backlog.length > 0 && this.#push(this.#backlog[0])) this.#backlog.shift();
      if (this.#backlog.length > 0 && this.#running) this.#scheduleFlush();
    }, 5);
  }

  /** The Worker's binding table (for `ctl bindings`). */
  dumpBindings(timeoutMs = 3000): Promise<BindingDumpEntry[]> {
    const id = this.#nextDump++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#dumps.delete(id);
        reject(new Error("the data plane did not answer"));
      }, timeoutMs);
      this.#dumps.set(id, (e) => {
        clearTimeout(timer);
        resolve(e);
      });
      this.send({ kind: "dump-bindings", id });
    });
  }

  /**
   * Have the Worker copy every counter into {@link stats} now (some are copied only every
   * 250 ms otherwise); resolves when it did, or after `timeoutMs` with the counters as they are.
   */
  syncStats(timeoutMs = 1000): Promise<void> {
    if (!this.#running) return Promise.resolve();
    const id = this.#nextDump++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#dumps.delete(id);
        resolve();
      }, timeoutMs);
      this.#dumps.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      this.send({ kind: "publish", id });
    });
  }

  /** Stop the Worker's loop and wait for it (at most `timeoutMs`), then release everything. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.#stop.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#stopped,
      new Promise<void>((r) => (timer = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(timer);
    this.#dispose();
  }

  #dispose(): void {
    this.#running = false;
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#worker.terminate();
    this.#ring.close();
    this.#stop.close();
  }
}
