/**
 * The DSTM server's lease engine (protocol.md §1.1, §5.3, §6 rows 4 and 9).
 *
 * - `allocator.ts`: {@link LeaseAllocator}, the pure, time-injected lease table of one IPv4 pool:
 *   O(1) allocation on any pool size, renewal by IPv6 address and identity, release, expiry,
 *   quarantine before reuse, per-client limits (changeable at run time), TEP tracking for `delete` and failover. Every
 *   change is a {@link LeaseEvent}.
 * - `store.ts`: {@link LeaseStore}, the allocator made durable in a state directory: journal with
 *   group commit, compaction to a snapshot, recovery on open.
 * - `journal.ts`, `snapshot.ts`: the on-disk formats (for inspection tools).
 * - `pool_space.ts`: the {@link PoolSpace} shape the allocator needs (`Ipv4Pool` from `lib/addr`).
 *
 * @module
 */
export {
  type AllocatorOptions,
  type AllocatorStats,
  type CreateRequest,
  type CreateResult,
  DEFAULT_LEASE_MS,
  DEFAULT_QUARANTINE_MIN_MS,
  LeaseAllocator,
  type LeaseLimits,
  type LeaseOwner,
  type LeaseRecordVisitor,
  type LeaseResult,
  type QuarantineEntry,
} from "./allocator.ts";
export {
  type Lease,
  type LeaseEvent,
  type LeaseEventKind,
  type LeaseFailure,
  type LeaseFailureReason,
  LeaseStatus,
  type LeaseStatusCode,
} from "./lease.ts";
export { isLeaseableIpv6 } from "./ipv6_policy.ts";
export { MAX_POOL_SIZE, type PoolSpace } from "./pool_space.ts";
export {
  type Committed,
  DEFAULT_COMPACT_AFTER_BYTES,
  LeaseStore,
  type LeaseStoreOpenResult,
  type LeaseStoreOptions,
  type LeaseStoreStats,
  type RecoveryReport,
  type TornSegment,
} from "./store.ts";
export {
  type JournalScan,
  type JournalStop,
  parseJournalHeader,
  scanJournalRecords,
} from "./journal.ts";
export { readSnapshot, type SnapshotResult, type SnapshotVisitor } from "./snapshot.ts";
