/**
 * The shared counter block of the client's data-plane Worker: the counters of
 * `ClientDataplaneCounters` (lib/client: traffic and named drop reasons), then the Worker's own
 * I/O counters below, in one `SharedArrayBuffer` the Worker writes (plain `+=`, one writer) and
 * the main thread reads for `ctl status`.
 *
 * @module
 */
import { type ClientCounterInfo, ClientDataplaneCounters } from "../lib/client/mod.ts";

/** The Worker's I/O counters, in layout order (append only). */
export const IO_COUNTERS = [
  {
    name: "tunnel-send-errors",
    help: "sendto on the raw IPv4-in-IPv6 socket failed (no route to the TEP, buffer full, ...)",
  },
  { name: "tun-write-errors", help: "a packet could not be written into the TUN" },
  { name: "control-messages", help: "lease/MTU/probe messages from the main thread applied" },
  { name: "bad-control-messages", help: "messages from the main thread that did not parse" },
  {
    name: "events-suppressed",
    help: "ICMPv6 events not reported to the main thread because of the report rate limit",
  },
  {
    name: "tun-coalesced-writes",
    help: "large TCP segments written into the TUN, each joined from several tunnel packets",
  },
  {
    name: "tun-coalesced-packets",
    help: "tunnel packets joined into those (not written on their own)",
  },
  {
    name: "tun-coalesce-bad-checksums",
    help: "tunnel TCP segments not joined because their checksum was wrong (the kernel drops them)",
  },
] as const satisfies readonly ClientCounterInfo[];

/** Name of an I/O counter. */
export type IoCounter = (typeof IO_COUNTERS)[number]["name"];

/** I/O counter name → index. */
export const IO_COUNTER_ID: { readonly [C in IoCounter]: number } = Object.freeze(
  Object.fromEntries(IO_COUNTERS.map((c, i) => [c.name, i])) as { [C in IoCounter]: number },
);

/** Bytes of the whole block. */
export const COUNTER_BLOCK_BYTES = ClientDataplaneCounters.BYTES + IO_COUNTERS.length * 8;

/** The two views over one counter block. */
export interface CounterBlock {
  /** Traffic and drop counters (lib/client). */
  readonly dataplane: ClientDataplaneCounters;
  /** I/O counters, indexed by {@link IO_COUNTER_ID}. */
  readonly io: Float64Array;
}

/** Views over `buffer` (at least {@link COUNTER_BLOCK_BYTES} bytes). */
export function counterBlock(buffer: ArrayBufferLike): CounterBlock {
  return {
    dataplane: new ClientDataplaneCounters(buffer, 0),
    io: new Float64Array(buffer, ClientDataplaneCounters.BYTES, IO_COUNTERS.length),
  };
}

/** Every I/O counter by name (allocates; for `ctl status`). */
export function ioSnapshot(io: Float64Array): Record<IoCounter, number> {
  const out = {} as Record<IoCounter, number>;
  IO_COUNTERS.forEach((c, i) => (out[c.name] = io[i]));
  return out;
}
