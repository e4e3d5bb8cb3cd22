/**
 * The durable lease store: a {@link LeaseAllocator} whose every change is appended to a journal in
 * a state directory, with group commit, periodic compaction to a snapshot, and recovery on open.
 *
 * Files in the state directory:
 * - `snapshot`: the table as of the start of journal generation G (see `snapshot.ts`);
 * - `journal-<G>`, `journal-<G+1>`, …: segments of journal records (see `journal.ts`);
 * - `snapshot.tmp`: a compaction in progress (deleted on open).
 *
 * Durability: the table changes synchronously (so requests in the same tick see each other), and
 * each call returns a `durable` promise that settles once the records are on disk. Appends made
 * in the same tick, and all appends made while an `fdatasync` is running, share one
 * `fdatasync` (group commit). The server must send `info` (or any reply that depends on a change)
 * only after `durable` resolves. If a write or sync fails the store stops for good: every pending
 * and later `durable` rejects, and the process should restart (and recover).
 *
 * Compaction (after `compactAfterBytes` of journal, on `compact()`, and at the end of every open):
 * sync the current segment, create segment G+1, write `snapshot.tmp` (generation G+1), fsync it,
 * rename it over `snapshot`, fsync the directory, then delete older segments. A crash at any point
 * leaves either the old snapshot with all segments, or the new snapshot with the new segment.
 *
 * Recovery (on open): load the snapshot, replay every segment of its generation or later in order
 * (a torn or damaged tail ends a segment: the records before it are kept), then compact. Replay
 * applies facts idempotently, so no acknowledged lease is lost and no address is leased twice;
 * quarantines survive (they are in the snapshot and in release/expire records).
 *
 * Only one process may use a state directory at a time (there is no lock file).
 *
 * @module
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type {
  CreateRequest,
  CreateResult,
  LeaseAllocator,
  LeaseOwner,
  LeaseResult,
} from "./allocator.ts";
import type { Lease, LeaseEvent } from "./lease.ts";
import {
  appendJournalRecord,
  JOURNAL_HEADER_LENGTH,
  type JournalStop,
  parseJournalHeader,
  scanJournalRecords,
  writeJournalHeader,
} from "./journal.ts";
import { readSnapshot, writeSnapshot } from "./snapshot.ts";
import { ByteWriter } from "./byte_buffer.ts";

/** Default journal size that triggers a compaction. */
export const DEFAULT_COMPACT_AFTER_BYTES = 16 * 1024 * 1024;

const SNAPSHOT = "snapshot";
const SNAPSHOT_TMP = "snapshot.tmp";
const SEGMENT_RE = /^journal-(\d{10})$/;

function segmentName(gen: number): string {
  return `journal-${String(gen).padStart(10, "0")}`;
}

/** Options of {@link LeaseStore.open}. */
export interface LeaseStoreOptions {
  /** State directory (created if missing). */
  readonly dir: string;
  /** A fresh, empty allocator configured for the pool; the store fills it from disk. */
  readonly allocator: LeaseAllocator;
  /** Compact once the journal segment reaches this size. Default 16 MiB. */
  readonly compactAfterBytes?: number;
  /** `fdatasync` each batch (default true). `false` is for tests and benchmarks only. */
  readonly sync?: boolean;
  /** Called once if the store fails (a write or sync error); the store is then unusable. */
  readonly onFailure?: (error: Error) => void;
  /**
   * Set when binding records are journaled without waiting for the disk (query replies): after
   * replay every live lease's binding floor is raised to min(expiry, `now + capMs`), see
   * `LeaseAllocator.raiseBindingFloors`, before the recovery snapshot is written.
   */
  readonly bindingFloor?: { readonly now: number; readonly capMs: number };
}

/** A damaged tail found during recovery (its records were dropped). */
export interface TornSegment {
  /** Segment file name. */
  readonly file: string;
  /** Offset of the first dropped byte. */
  readonly offset: number;
  /** Bytes dropped. */
  readonly droppedBytes: number;
  /** What was wrong there. */
  readonly stop: JournalStop | "truncated-header";
}

/** What recovery found. */
export interface RecoveryReport {
  /** A snapshot was present. */
  readonly snapshotFound: boolean;
  /** Leases and quarantined addresses loaded from the snapshot. */
  readonly snapshotLeases: number;
  /** Quarantined addresses loaded from the snapshot. */
  readonly snapshotQuarantined: number;
  /** Snapshot entries and journal records dropped: their address is no longer in the pool. */
  readonly outsidePool: number;
  /** Journal segments replayed. */
  readonly segmentsReplayed: number;
  /** Journal records replayed. */
  readonly recordsReplayed: number;
  /** Replayed records that changed nothing (their effect was already there). */
  readonly recordsWithoutEffect: number;
  /** Torn or damaged tails (normal after a crash: the last batch was never acknowledged). */
  readonly torn: readonly TornSegment[];
  /** Generation of the journal segment now in use. */
  readonly generation: number;
}

/** Result of {@link LeaseStore.open}. */
export type LeaseStoreOpenResult =
  | { readonly ok: true; readonly store: LeaseStore; readonly recovery: RecoveryReport }
  | {
    readonly ok: false;
    readonly reason: "snapshot-damaged" | "journal-damaged" | "io-error";
    /** The file concerned, if any. */
    readonly file?: string;
    /** Details for the log. */
    readonly detail: string;
  };

/** The outcome of a store call: the allocator's result, its events, and their durability. */
export interface Committed<T> {
  /** What the allocator returned. */
  readonly result: T;
  /** The events the call produced (expirations first), e.g. for sending `delete` to TEPs. */
  readonly events: readonly LeaseEvent[];
  /** Settles once `events` are on disk (at once when there are none). Reply only after it. */
  readonly durable: Promise<void>;
}

/** Counters of a {@link LeaseStore}. */
export interface LeaseStoreStats {
  /** Generation of the current journal segment. */
  readonly generation: number;
  /** Bytes in the current segment. */
  readonly journalBytes: number;
  /** Bytes waiting for the next batch. */
  readonly pendingBytes: number;
  /** Records appended since open. */
  readonly records: number;
  /** Batches written (each with one `fdatasync` when syncing). */
  readonly batches: number;
  /** Compactions since open (including the one at open). */
  readonly compactions: number;
}

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** A compaction failed after the new snapshot was renamed into place: the store must stop. */
class CompactionFatal extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super(`Cannot finish compaction: ${cause.message}`);
    this.cause = cause;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** A {@link LeaseAllocator} persisted in a state directory. Create with {@link LeaseStore.open}. */
export class LeaseStore {
  readonly #dir: string;
  readonly #alloc: LeaseAllocator;
  readonly #compactAfter: number;
  readonly #sync: boolean;
  readonly #onFailure?: (error: Error) => void;

  #fd = -1;
  #gen = 0;
  #journalBytes = 0;
  #nextCompactAt: number;
  #pending = new ByteWriter(1 << 16);
  #waiters: Waiter[] = [];
  /** The one `durable` promise of the batch being gathered (every append in it shares it). */
  #batchDurable: Promise<void> | undefined;
  #idleWaiters: Waiter[] = [];
  #compactWaiters: Waiter[] = [];
  #compactRequested = false;
  #inFlight = false;
  #scheduled = false;
  #failure: Error | undefined;
  #closed = false;
  #records = 0;
  #batches = 0;
  #compactions = 0;

  private constructor(options: LeaseStoreOptions) {
    this.#dir = options.dir;
    this.#alloc = options.allocator;
    const c = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES;
    if (!(c > 0)) throw new RangeError(`Cannot use compactAfterBytes ${c}: must be positive`);
    this.#compactAfter = c;
    this.#nextCompactAt = c;
    this.#sync = options.sync ?? true;
    this.#onFailure = options.onFailure;
  }

  /**
   * Open (or create) the store in `options.dir`, recovering the table into `options.allocator`
   * (which must be empty: throws `TypeError` otherwise). Never throws for damaged files or I/O
   * errors: those come back as `{ ok: false }`.
   */
  static open(options: LeaseStoreOptions): LeaseStoreOpenResult {
    const a = options.allocator;
    const s = a.stats();
    if (s.highWater !== 0 || s.leased !== 0) {
      throw new TypeError("Cannot open lease store: the allocator is not empty");
    }
    const store = new LeaseStore(options);
    const dir = options.dir;
    let file: string | undefined;
    try {
      fs.mkdirSync(dir, { recursive: true });
      const names = fs.readdirSync(dir);
      if (names.includes(SNAPSHOT_TMP)) fs.unlinkSync(path.join(dir, SNAPSHOT_TMP));

      let gen = 0;
      let snapshotLeases = 0;
      let snapshotQuarantined = 0;
      let outsidePool = 0;
      const snapshotFound = names.includes(SNAPSHOT);
      if (snapshotFound) {
        file = SNAPSHOT;
        const r = readSnapshot(fs.readFileSync(path.join(dir, SNAPSHOT)), {
          lease(l) {
            if (a.restoreLease(l)) snapshotLeases++;
            else outsidePool++;
          },
          quarantine(q) {
            if (a.restoreQuarantine(q)) snapshotQuarantined++;
            else outsidePool++;
          },
        });
        if (!r.ok) return { ok: false, reason: "snapshot-damaged", file, detail: r.reason };
        gen = r.generation;
      }

      const segments: number[] = [];
      for (const n of names) {
        const m = SEGMENT_RE.exec(n);
        if (m) segments.push(Number(m[1]));
      }
      segments.sort((x, y) => x - y);
      let segmentsReplayed = 0;
      let recordsReplayed = 0;
      let recordsWithoutEffect = 0;
      const torn: TornSegment[] = [];
      for (const g of segments) {
        if (g < gen) continue; // left over from a compaction: already in the snapshot
        file = segmentName(g);
        const bytes = fs.readFileSync(path.join(dir, file));
        const h = parseJournalHeader(bytes);
        if (!h.ok) {
          if (h.reason === "truncated") {
            // crash while the segment was being created: nothing was ever acknowledged in it
            torn.push({ file, offset: 0, droppedBytes: bytes.length, stop: "truncated-header" });
            continue;
          }
          return { ok: false, reason: "journal-damaged", file, detail: `header: ${h.reason}` };
        }
        if (h.generation !== g) {
          return {
            ok: false,
            reason: "journal-damaged",
            file,
            detail: `header generation ${h.generation} does not match the file name`,
          };
        }
        const scan = scanJournalRecords(bytes, JOURNAL_HEADER_LENGTH);
        for (const ev of scan.events) {
          if (a.pool.indexOf(ev.ipv4) < 0) outsidePool++;
          else if (a.apply(ev)) recordsReplayed++;
          else recordsWithoutEffect++;
        }
        if (scan.stop !== "end") {
          torn.push({
            file,
            offset: scan.end,
            droppedBytes: bytes.length - scan.end,
            stop: scan.stop,
          });
        }
        segmentsReplayed++;
      }
      file = undefined;
      if (options.bindingFloor) {
        a.raiseBindingFloors(options.bindingFloor.now + options.bindingFloor.capMs);
      }
      const newGen = Math.max(gen, segments.length ? segments[segments.length - 1] : 0) + 1;
      store.#compactTo(newGen);
      return {
        ok: true,
        store,
        recovery: {
          snapshotFound,
          snapshotLeases,
          snapshotQuarantined,
          outsidePool,
          segmentsReplayed,
          recordsReplayed,
          recordsWithoutEffect,
          torn,
          generation: newGen,
        },
      };
    } catch (e) {
      if (store.#fd >= 0) fs.closeSync(store.#fd);
      return { ok: false, reason: "io-error", file, detail: asError(e).message };
    }
  }

  /** The table (read it freely; change it only through the store, or call `commit()` after). */
  get allocator(): LeaseAllocator {
    return this.#alloc;
  }

  /** The error that stopped the store, if any. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Counters. */
  stats(): LeaseStoreStats {
    return {
      generation: this.#gen,
      journalBytes: this.#journalBytes,
      pendingBytes: this.#pending.length,
      records: this.#records,
      batches: this.#batches,
      compactions: this.#compactions,
    };
  }

  /** `LeaseAllocator.create`, journaled. */
  create(req: CreateRequest, now: number): Committed<CreateResult> {
    this.#checkOpen();
    return this.#wrap(this.#alloc.create(req, now));
  }

  /** `LeaseAllocator.release`, journaled. */
  release(ipv4: number, now: number, owner?: LeaseOwner): Committed<LeaseResult> {
    this.#checkOpen();
    return this.#wrap(this.#alloc.release(ipv4, now, owner));
  }

  /** `LeaseAllocator.noteQuery`, journaled (reply to the TEP only after `durable`). */
  noteQuery(ipv4: number, tep: string, ttlMs: number, now: number): Committed<LeaseResult> {
    this.#checkOpen();
    return this.#wrap(this.#alloc.noteQuery(ipv4, tep, ttlMs, now));
  }

  /** `LeaseAllocator.reassign`, journaled. */
  reassign(ipv4: number, tep: string, now: number): Committed<LeaseResult> {
    this.#checkOpen();
    return this.#wrap(this.#alloc.reassign(ipv4, tep, now));
  }

  /** `LeaseAllocator.expire`, journaled; call it at `allocator.pollAt()`. */
  expire(now: number): Committed<Lease[]> {
    this.#checkOpen();
    return this.#wrap(this.#alloc.expire(now));
  }

  /** Journal whatever changes were made on the allocator directly since the last call. */
  commit(): Committed<void> {
    this.#checkOpen();
    return this.#wrap(undefined);
  }

  /** Settles once everything appended so far is on disk. */
  flush(): Promise<void> {
    if (this.#failure) return this.#rejected();
    if (this.#pending.length === 0 && !this.#inFlight) return RESOLVED;
    return this.#wait(this.#idleWaiters);
  }

  /** Compact now (at the next point where no batch is being written); settles when done. */
  compact(): Promise<void> {
    this.#checkOpen();
    if (this.#failure) return this.#rejected();
    this.#compactRequested = true;
    const p = this.#wait(this.#compactWaiters);
    this.#schedule();
    return p;
  }

  /**
   * Flush, then close the journal. Later calls throw `TypeError`. Rejects with the store's
   * failure if it has failed (the descriptor is closed anyway).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#compactRequested && !this.#failure) {
      await this.#wait(this.#compactWaiters).catch(() => {});
    }
    await this.flush().catch(() => {});
    const fd = this.#fd;
    this.#fd = -1;
    let closeError: unknown;
    try {
      if (fd >= 0) fs.closeSync(fd);
    } catch (e) {
      closeError = e;
    }
    if (this.#failure) throw this.#failure;
    if (closeError) throw closeError;
  }

  // ---- internals -------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new TypeError("Cannot use lease store: it is closed");
  }

  #rejected(): Promise<void> {
    const p = Promise.reject(this.#failure);
    p.catch(() => {});
    return p;
  }

  #wait(list: Waiter[]): Promise<void> {
    const p = new Promise<void>((resolve, reject) => list.push({ resolve, reject }));
    p.catch(() => {}); // a failure is reported through onFailure; no unhandled rejections
    return p;
  }

  #wrap<T>(result: T): Committed<T> {
    const events = this.#alloc.drainEvents();
    if (events.length === 0) return { result, events, durable: RESOLVED };
    if (this.#failure) return { result, events, durable: this.#rejected() };
    for (const e of events) appendJournalRecord(this.#pending, e);
    this.#records += events.length;
    const durable = this.#batchDurable ??= this.#wait(this.#waiters);
    this.#schedule();
    return { result, events, durable };
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight || this.#failure) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#pump());
  }

  /** Write the pending batch and start its sync; or compact; runs only when no sync is running. */
  #pump(): void {
    this.#scheduled = false;
    if (this.#inFlight || this.#failure) return;
    if (this.#compactRequested) this.#compactNow();
    if (this.#failure) return;
    if (this.#pending.length === 0) {
      this.#settle(this.#idleWaiters);
      return;
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#batchDurable = undefined;
    const bytes = this.#pending.bytes();
    try {
      writeAll(this.#fd, bytes);
    } catch (e) {
      this.#fail(asError(e), waiters);
      return;
    }
    this.#journalBytes += bytes.length;
    this.#pending.clear();
    this.#batches++;
    if (!this.#sync) {
      this.#settle(waiters);
      this.#afterBatch();
      return;
    }
    this.#inFlight = true;
    fs.fdatasync(this.#fd, (err) => {
      this.#inFlight = false;
      if (err) {
        this.#fail(asError(err), waiters);
        return;
      }
      this.#settle(waiters);
      this.#afterBatch();
    });
  }

  #afterBatch(): void {
    if (this.#journalBytes >= this.#nextCompactAt) this.#compactRequested = true;
    if (this.#pending.length > 0 || this.#compactRequested || this.#idleWaiters.length > 0) {
      this.#schedule();
    }
  }

  #settle(list: Waiter[]): void {
    const ws = list.splice(0);
    for (const w of ws) w.resolve();
  }

  #fail(e: Error, batch: Waiter[]): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#batchDurable = undefined;
    const all = [
      ...batch,
      ...this.#waiters.splice(0),
      ...this.#idleWaiters.splice(0),
      ...this.#compactWaiters.splice(0),
    ];
    for (const w of all) w.reject(e);
    this.#onFailure?.(e);
  }

  /** Compaction from the pump: sync what is pending into the current segment, then switch. */
  #compactNow(): void {
    this.#compactRequested = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#batchDurable = undefined;
    // changes made on the allocator without commit() are in the table, so in the snapshot too
    for (const e of this.#alloc.drainEvents()) appendJournalRecord(this.#pending, e);
    try {
      if (this.#pending.length > 0) {
        const bytes = this.#pending.bytes();
        writeAll(this.#fd, bytes);
        this.#journalBytes += bytes.length;
        this.#pending.clear();
        this.#batches++;
      }
      if (this.#sync) fs.fdatasyncSync(this.#fd);
    } catch (e) {
      this.#fail(asError(e), waiters);
      return;
    }
    this.#settle(waiters);
    const cws = this.#compactWaiters.splice(0);
    try {
      this.#compactTo(this.#gen + 1);
    } catch (e) {
      if (e instanceof CompactionFatal) {
        this.#fail(e.cause, cws);
        return;
      }
      // the old snapshot and segment are intact and still in use; try again later
      this.#nextCompactAt = this.#journalBytes + this.#compactAfter;
      for (const w of cws) w.reject(asError(e));
      return;
    }
    for (const w of cws) w.resolve();
  }

  /** Start segment `gen` and write a snapshot of the table for it; throws on I/O errors. */
  #compactTo(gen: number): void {
    const dir = this.#dir;
    const segPath = path.join(dir, segmentName(gen));
    const tmpPath = path.join(dir, SNAPSHOT_TMP);
    let segFd = -1;
    let tmpFd = -1;
    let renamed = false;
    try {
      segFd = fs.openSync(segPath, "w");
      const header = new Uint8Array(JOURNAL_HEADER_LENGTH);
      writeJournalHeader(gen, header);
      writeAll(segFd, header);
      if (this.#sync) fs.fdatasyncSync(segFd);
      tmpFd = fs.openSync(tmpPath, "w");
      const fd = tmpFd;
      writeSnapshot(gen, this.#alloc, (chunk) => writeAll(fd, chunk));
      if (this.#sync) fs.fsyncSync(tmpFd);
      fs.closeSync(tmpFd);
      tmpFd = -1;
      fs.renameSync(tmpPath, path.join(dir, SNAPSHOT));
      renamed = true;
      if (this.#sync) fsyncDir(dir);
    } catch (e) {
      if (tmpFd >= 0) fs.closeSync(tmpFd);
      if (segFd >= 0) fs.closeSync(segFd);
      if (renamed) {
        // the new snapshot may or may not be on disk: neither segment is safe to append to
        throw new CompactionFatal(asError(e));
      }
      try {
        fs.rmSync(tmpPath, { force: true });
        fs.rmSync(segPath, { force: true });
      } catch {
        // best effort: a later open ignores both
      }
      throw e;
    }
    if (this.#fd >= 0) fs.closeSync(this.#fd);
    this.#fd = segFd;
    this.#gen = gen;
    this.#journalBytes = JOURNAL_HEADER_LENGTH;
    this.#nextCompactAt = this.#compactAfter;
    this.#compactions++;
    try {
      for (const n of fs.readdirSync(dir)) {
        const m = SEGMENT_RE.exec(n);
        if (m && Number(m[1]) < gen) fs.rmSync(path.join(dir, n), { force: true });
      }
    } catch {
      // older segments are ignored by the next open anyway
    }
  }
}
