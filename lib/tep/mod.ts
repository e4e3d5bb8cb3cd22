/**
 * The pure, time-injected pieces of a DSTM TEP (border router) that the forwarding core and the
 * TEP shell build on (protocol brief §4.5, §5.4, §6):
 *
 * - `binding_table.ts`: {@link BindingTable}, pool IPv4 -> client IPv6, filled only from the
 *   control plane (push or `query`), with zero-allocation per-packet checks.
 * - `negative_cache.ts`: {@link NegativeCache}, addresses the server said are not leased.
 * - `../ratelimit/token_bucket.ts` (re-exported): {@link TokenBucket}, {@link KeyedTokenBucket}.
 * - `query_scheduler.ts`: {@link QueryScheduler}, the miss path in both directions as decisions
 *   (query, queue, drop with a reason), with bounded queues.
 * - `drop_reasons.ts`: {@link DROP_REASONS}, the one table of drop reasons, and
 *   {@link DropCounters}, one counter per reason that can live in a `SharedArrayBuffer`.
 * - `reassembly.ts`: {@link Reassembler}, IPv6 fragment reassembly with bounded memory and time.
 * - `forward.ts`: the sans-I/O forwarding core, {@link decapsulate} and {@link encapsulate} on a
 *   reused {@link ForwardContext}, returning {@link FORWARD_ACTION} codes.
 * - `icmp_relay.ts`: {@link relayIcmpv6}, ICMPv6 errors about tunnel packets relayed as ICMPv4.
 * - `forward_config.ts`: {@link resolveForwardConfig}, the core's validated configuration.
 *
 * Shell contract: pass an `out` buffer that is not the input buffer (at least
 * {@link FORWARD_OUT_BYTES}); read packets at an offset >= 48 so encapsulation writes the outer
 * header in place; install an answered binding in the table before calling {@link forwardQueued};
 * call {@link expireReassembly} at `ctx.reassembler.pollAt()`; ICMPv6 errors routed to the tunnel
 * address go to {@link relayIcmpv6}. With one TUN carrying both families, `ctx.family` only says
 * which family the output packet is: everything is written back to the same TUN.
 *
 * @module
 */
export {
  BINDING_TABLE_DEFAULT_CAPACITY,
  BINDING_TABLE_DEFAULT_MAX_TTL_MS,
  type BindingCheck,
  type BindingEntry,
  type BindingInput,
  type BindingSource,
  BindingTable,
  type BindingTableOptions,
  type BindingTableStats,
  type UpsertResult,
} from "./binding_table.ts";
export {
  DROP_REASON_COUNT,
  DROP_REASON_ID,
  DROP_REASONS,
  DropCounters,
  type DropReason,
  dropReasonHelp,
  type DropReasonInfo,
  isDropReason,
} from "./drop_reasons.ts";
export {
  NEGATIVE_CACHE_DEFAULT_CAPACITY,
  NEGATIVE_CACHE_DEFAULT_TTL_MS,
  NEGATIVE_CACHE_DEFAULT_UNREACHABLE_TTL_MS,
  NegativeCache,
  type NegativeCacheOptions,
} from "./negative_cache.ts";
export {
  ipv4PrefixKey,
  ipv6PrefixKey,
  KeyedTokenBucket,
  type KeyedTokenBucketOptions,
  TokenBucket,
  type TokenBucketOptions,
} from "../ratelimit/token_bucket.ts";
export {
  type MissDecision,
  type PoolMembership,
  QUERY_SCHEDULER_DEFAULTS,
  type QueryResult,
  QueryScheduler,
  type QuerySchedulerOptions,
  type QuerySchedulerStats,
  type QueuedPacket,
  type SchedulerOutcome,
  type SourceRateOptions,
} from "./query_scheduler.ts";
export * from "./reassembly.ts";
export * from "./forward.ts";
export * from "./icmp_relay.ts";
export * from "./forward_config.ts";
