/**
 * The main thread's handle on the data plane: the {@link DataplaneControl} seam the agent
 * drives, its real implementation over a Worker ({@link WorkerDataplane}, running
 * `dataplane_worker.ts`), and an in-memory fake ({@link FakeDataplane}) for unit tests.
 *
 * Lease, MTU and probe requests travel over a `MessageRing` (the Worker sits in `poll(2)` and
 * never runs its event loop); they may be sent before the Worker starts, since its loop drains
 * the ring first. Events come back by `postMessage`. Counters are read from the shared block.
 *
 * @module
 */
import { workerModuleUrls } from "../lib/sys/worker_url.ts";
import { type Cidr6, formatCidr6, formatIpv4, formatIpv6 } from "../lib/addr/mod.ts";
import type { DataplaneLease } from "../lib/client/mod.ts";
import { StopSignal, SysError } from "../lib/sys/mod.ts";
import { MessageRing } from "../lib/sys/message_ring.ts";
import { COUNTER_BLOCK_BYTES, type CounterBlock, counterBlock } from "./io_counters.ts";
import {
  type DataplaneInit,
  RING_MESSAGE_MAX,
  type RingMessage,
  type WorkerEvent,
  writeRingMessage,
} from "./ring_messages.ts";

/** What the agent asks of the data plane. */
export interface DataplaneControl {
  /** Start forwarding with the registered IPv6 `localIpv6`; resolves once the sockets are open. */
  start(localIpv6: string): Promise<void>;
  /** True after a successful {@link start}. */
  readonly started: boolean;
  /** Use this lease and TEP (configure, reconfigure-tep). */
  setLease(lease: DataplaneLease): void;
  /** Drop everything: no lease (deconfigure). */
  clearLease(): void;
  /** Set the tunnel MTU. */
  setMtu(mtu: number): void;
  /** Send a keepalive probe with this sequence number. */
  probe(seq: number): void;
  /** The counters (read-only views). */
  readonly counters: CounterBlock;
  /** Stop and release the sockets. */
  stop(): Promise<void>;
}

/** Options of {@link WorkerDataplane}. */
export interface WorkerDataplaneOptions {
  /** The TUN fd. */
  readonly tunFd: number;
  /** The TUN carries a virtio header (IFF_VNET_HDR) before every packet (default false). */
  readonly vnetHeader?: boolean;
  /** Hop limit of tunnel packets. */
  readonly hopLimit: number;
  /** Initial tunnel MTU. */
  readonly mtu: number;
  /** Configured TEP prefixes. */
  readonly tepPrefixes: readonly Cidr6[];
  /** Keepalive echo identifier. */
  readonly probeId: number;
  /** Receive ICMPv6 errors (default true). */
  readonly icmpErrors?: boolean;
  /** Events from the Worker after start (keepalive replies, ICMPv6 evidence, MTU, errors). */
  readonly onEvent: (e: WorkerEvent) => void;
}

const RING_BYTES = 4096;

/** The data plane in a Worker; see the module documentation. */
export class WorkerDataplane implements DataplaneControl {
  readonly counters: CounterBlock;
  readonly #o: WorkerDataplaneOptions;
  readonly #ring: MessageRing;
  readonly #stop: StopSignal;
  readonly #sab = new SharedArrayBuffer(COUNTER_BLOCK_BYTES);
  readonly #msg = new Uint8Array(RING_MESSAGE_MAX);
  #worker: Worker | undefined;
  #started = false;
  #stopped: Promise<void> | undefined;
  #resolveStopped: (() => void) | undefined;
  /** Ring messages that did not fit (the ring is far larger than any burst of control work). */
  ringOverflows = 0;

  /** Create the ring, stop signal and counters (throws SysError if an eventfd fails). */
  constructor(options: WorkerDataplaneOptions) {
    this.#o = options;
    this.#ring = MessageRing.create(RING_BYTES);
    this.#stop = StopSignal.create();
    this.counters = counterBlock(this.#sab);
  }

  get started(): boolean {
    return this.#started;
  }

  async start(localIpv6: string): Promise<void> {
    if (this.#worker) throw new Error("data plane already started");
    let last: Error | undefined;
    for (const url of workerModuleUrls(import.meta.url, "dataplane_worker.ts", "client")) {
      try {
        return await this.#startAt(url, localIpv6);
      } catch (e) {
        last = e as Error;
        this.#dropWorker();
        // Only a missing module means "try where else the build may have put it".
        if (!/ModuleNotFound|Module not found|Cannot find module/i.test(last.message)) throw e;
      }
    }
    throw last ?? new Error("no data-plane Worker module");
  }

  #dropWorker(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }

  #startAt(url: string, localIpv6: string): Promise<void> {
    const worker = new Worker(url, { type: "module" });
    this.#worker = worker;
    this.#stopped = new Promise<void>((r) => (this.#resolveStopped = r));
    const init: DataplaneInit = {
      tunFd: this.#o.tunFd,
      vnetHeader: this.#o.vnetHeader ?? false,
      localIpv6,
      hopLimit: this.#o.hopLimit,
      mtu: this.#o.mtu,
      tepPrefixes: this.#o.tepPrefixes.map(formatCidr6),
      probeId: this.#o.probeId,
      icmpErrors: this.#o.icmpErrors ?? true,
      counters: this.#sab,
      ring: this.#ring.init,
      stop: this.#stop.init,
    };
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.onmessage = (e: MessageEvent) => {
        const ev = e.data as WorkerEvent;
        if (ev.kind === "ready") {
          ready = true;
          this.#started = true;
          resolve();
          return;
        }
        if (ev.kind === "error" || ev.kind === "stopped") this.#resolveStopped?.();
        if (!ready && ev.kind === "error") {
          reject(
            ev.op !== undefined && ev.errno !== undefined
              ? new SysError(ev.op, ev.errno, ev.detail)
              : new Error(`data plane: ${ev.message}`),
          );
          return;
        }
        this.#o.onEvent(ev);
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault?.();
        this.#resolveStopped?.();
        const err = new Error(`data plane worker: ${e.message}`);
        if (!ready) reject(err);
        else this.#o.onEvent({ kind: "error", message: err.message });
      };
      worker.postMessage(init);
    });
  }

  #send(m: RingMessage): void {
    const n = writeRingMessage(m, this.#msg);
    if (!this.#ring.push(this.#msg, n)) this.ringOverflows++;
  }

  setLease(lease: DataplaneLease): void {
    this.#send({
      kind: "lease",
      ipv4: lease.ipv4,
      tepIpv4: lease.tep.ipv4,
      tepIpv6: lease.tep.ipv6,
    });
  }

  clearLease(): void {
    this.#send({ kind: "no-lease" });
  }

  setMtu(mtu: number): void {
    this.#send({ kind: "mtu", mtu });
  }

  probe(seq: number): void {
    this.#send({ kind: "probe", seq });
  }

  async stop(): Promise<void> {
    this.#stop.stop();
    const w = this.#worker;
    if (w && this.#stopped) {
      await Promise.race([this.#stopped, new Promise((r) => setTimeout(r, 3000))]);
      w.terminate();
    }
    this.#worker = undefined;
    this.#started = false;
    this.#ring.close();
    this.#stop.close();
  }
}

/** One call recorded by {@link FakeDataplane}. */
export type FakeDataplaneCall =
  | { readonly kind: "start"; readonly localIpv6: string }
  | { readonly kind: "lease"; readonly ipv4: string; readonly tep: string }
  | { readonly kind: "no-lease" }
  | { readonly kind: "mtu"; readonly mtu: number }
  | { readonly kind: "probe"; readonly seq: number }
  | { readonly kind: "stop" };

/** An in-memory {@link DataplaneControl} that records what it is asked. */
export class FakeDataplane implements DataplaneControl {
  /** Every call, in order. */
  readonly calls: FakeDataplaneCall[] = [];
  readonly counters: CounterBlock = counterBlock(new ArrayBuffer(COUNTER_BLOCK_BYTES));
  #started = false;
  /** Make {@link start} fail with this error. */
  failStart: Error | undefined;

  get started(): boolean {
    return this.#started;
  }

  start(localIpv6: string): Promise<void> {
    this.calls.push({ kind: "start", localIpv6 });
    if (this.failStart) return Promise.reject(this.failStart);
    this.#started = true;
    return Promise.resolve();
  }

  setLease(lease: DataplaneLease): void {
    this.calls.push({
      kind: "lease",
      ipv4: formatIpv4(lease.ipv4),
      tep: formatIpv6(lease.tep.ipv6),
    });
  }

  clearLease(): void {
    this.calls.push({ kind: "no-lease" });
  }

  setMtu(mtu: number): void {
    this.calls.push({ kind: "mtu", mtu });
  }

  probe(seq: number): void {
    this.calls.push({ kind: "probe", seq });
  }

  stop(): Promise<void> {
    this.calls.push({ kind: "stop" });
    this.#started = false;
    return Promise.resolve();
  }
}
