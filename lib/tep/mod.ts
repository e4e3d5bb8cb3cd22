/**
 * The pure, time-injected pieces of a DSTM TEP (border router) that the forwarding core and the
 * TEP shell build on (protocol brief §4.5, §5.4, §6):
 *
 * - `binding_table.ts`: {@link BindingTable}, pool IPv4 -> client IPv6, filled only from the
 *   control plane (push or `query`), with zero-allocation per-packet checks.
 * - `negative_cache.ts`: {@link NegativeCache}, addresses the server said are not leased.
 * - `token_bucket.ts`: {@link TokenBucket} and {@link KeyedTokenBucket} (per source, LRU).
 * - `query_scheduler.ts`: {@link QueryScheduler}, the miss path in both directions as decisions
 *   (query, queue, drop with a reason), with bounded queues.
 * - `drop_reasons.ts`: {@link DROP_REASONS}, the one table of drop reasons, and
 *   {@link DropCounters}, one counter per reason that can live in a `SharedArrayBuffer`.
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
} from "./token_bucket.ts";
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
