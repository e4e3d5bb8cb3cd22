/**
 * The lease snapshot's on-disk format (written by compaction, read on recovery). Pure codecs.
 *
 * Layout (little-endian): `"DSTMLS02"`, uint32 generation (the first journal segment to replay
 * after it), then entries, each opened by a tag byte:
 * - 3 = string: uint32 byte length and UTF-8; strings are numbered 0, 1, … in order of appearance
 *   and always defined before they are used;
 * - 1 = lease: uint32 ipv4, 16-byte client IPv6, float64 expiresAt, float64 bindingUntil, uint32
 *   identity string number, uint32 tep string number, uint32 n, n uint32 string numbers
 *   (tepsThatQueried);
 * - 2 = quarantine: uint32 ipv4, float64 until;
 * - 0 = end;
 *
 * then a uint32 CRC-32 of everything before it. Identities and TEP names are written once each,
 * which keeps a snapshot of a million leases near 50 bytes per lease and fast to write.
 *
 * @module
 */

import type { Lease } from "./lease.ts";
import type { LeaseRecordVisitor, QuarantineEntry } from "./allocator.ts";
import { crc32 } from "./crc32.ts";
import { ByteReader, ByteWriter } from "./byte_buffer.ts";

/** The 8 magic bytes opening a snapshot. */
export const SNAPSHOT_MAGIC: Uint8Array = new TextEncoder().encode("DSTMLS02");

const TAG_END = 0;
const TAG_LEASE = 1;
const TAG_QUARANTINE = 2;
const TAG_STRING = 3;

/** What a snapshot is written from; a `LeaseAllocator` is one. */
export interface SnapshotSource {
  /** Visit every lease (see `LeaseAllocator.forEachLeaseRecord`). */
  forEachLeaseRecord(visit: LeaseRecordVisitor): void;
  /** Every quarantined address. */
  quarantine(): Iterable<QuarantineEntry>;
}

/** A {@link SnapshotSource} over plain lists (tests and tools). */
export function listSnapshotSource(
  leases: readonly Lease[],
  quarantine: readonly QuarantineEntry[],
): SnapshotSource {
  return {
    forEachLeaseRecord(visit) {
      for (const l of leases) {
        visit(
          l.ipv4,
          l.clientIpv6,
          0,
          l.identity,
          l.tep,
          l.expiresAt,
          l.bindingUntil,
          [...l.tepsThatQueried],
        );
      }
    },
    quarantine: () => quarantine,
  };
}

/**
 * Encode a snapshot of `source` and hand it to `sink` in chunks of about `chunkSize` bytes (each
 * chunk is only valid during the call). Memory use is one chunk plus the distinct strings.
 */
export function writeSnapshot(
  generation: number,
  source: SnapshotSource,
  sink: (chunk: Uint8Array) => void,
  chunkSize = 1 << 16,
): void {
  const w = new ByteWriter(chunkSize + 1024);
  const strings = new Map<string, number>();
  let crc = 0;
  const flush = (force: boolean) => {
    if (w.length === 0 || (!force && w.length < chunkSize)) return;
    const b = w.bytes();
    crc = crc32(b, 0, b.length, crc);
    sink(b);
    w.clear();
  };
  const ref = (s: string): number => {
    let id = strings.get(s);
    if (id === undefined) {
      id = strings.size;
      strings.set(s, id);
      w.u8(TAG_STRING);
      w.str(s);
    }
    return id;
  };
  const refs: number[] = [];
  w.raw(SNAPSHOT_MAGIC);
  w.u32(generation);
  source.forEachLeaseRecord((ipv4, v6, v6Off, identity, tep, expiresAt, bindingUntil, teps) => {
    const idRef = ref(identity);
    const tepRef = ref(tep);
    refs.length = 0;
    for (const t of teps) refs.push(ref(t));
    w.u8(TAG_LEASE);
    w.u32(ipv4);
    w.rawFrom(v6, v6Off, 16);
    w.f64(expiresAt);
    w.f64(bindingUntil);
    w.u32(idRef);
    w.u32(tepRef);
    w.u32(refs.length);
    for (const r of refs) w.u32(r);
    flush(false);
  });
  for (const q of source.quarantine()) {
    w.u8(TAG_QUARANTINE);
    w.u32(q.ipv4);
    w.f64(q.until);
    flush(false);
  }
  w.u8(TAG_END);
  flush(true);
  w.u32(crc);
  sink(w.bytes());
}

/** Receives the entries of a snapshot being read. */
export interface SnapshotVisitor {
  /** One lease. */
  lease(lease: Lease): void;
  /** One quarantined address. */
  quarantine(entry: QuarantineEntry): void;
}

/** Result of {@link readSnapshot}. */
export type SnapshotResult =
  | {
    readonly ok: true;
    readonly generation: number;
    readonly leases: number;
    readonly quarantined: number;
  }
  | {
    readonly ok: false;
    readonly reason: "truncated" | "bad-magic" | "bad-checksum" | "bad-entry";
  };

/**
 * Check and decode a snapshot, calling `visit` for each entry; never throws on input. The
 * checksum is verified before any entry is visited.
 */
export function readSnapshot(bytes: Uint8Array, visit: SnapshotVisitor): SnapshotResult {
  const n = Math.min(bytes.length, 8);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== SNAPSHOT_MAGIC[i]) return { ok: false, reason: "bad-magic" };
  }
  if (bytes.length < 8 + 4 + 1 + 4) return { ok: false, reason: "truncated" };
  const body = bytes.length - 4;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(body, true) !== crc32(bytes, 0, body)) {
    return { ok: false, reason: "bad-checksum" };
  }
  const r = new ByteReader(bytes, 8, body);
  const generation = r.u32();
  const strings: string[] = [];
  let leases = 0;
  let quarantined = 0;
  const bad = { ok: false, reason: "bad-entry" } as const;
  for (;;) {
    const tag = r.u8();
    if (r.failed) return bad;
    if (tag === TAG_END) break;
    if (tag === TAG_STRING) {
      const s = r.str();
      if (r.failed) return bad;
      strings.push(s);
    } else if (tag === TAG_LEASE) {
      const ipv4 = r.u32();
      const clientIpv6 = r.raw(16);
      const expiresAt = r.f64();
      const bindingUntil = r.f64();
      const identity = strings[r.u32()];
      const tep = strings[r.u32()];
      const k = r.u32();
      if (r.failed || k > r.remaining / 4) return bad;
      const teps = new Set<string>();
      for (let j = 0; j < k; j++) {
        const t = strings[r.u32()];
        if (t === undefined) return bad;
        teps.add(t);
      }
      if (
        r.failed || identity === undefined || tep === undefined || tep === "" ||
        !Number.isFinite(expiresAt) || Number.isNaN(bindingUntil)
      ) {
        return bad;
      }
      visit.lease({
        ipv4,
        clientIpv6,
        identity,
        expiresAt,
        tep,
        tepsThatQueried: teps,
        bindingUntil,
      });
      leases++;
    } else if (tag === TAG_QUARANTINE) {
      const ipv4 = r.u32();
      const until = r.f64();
      if (r.failed || Number.isNaN(until)) return bad;
      visit.quarantine({ ipv4, until });
      quarantined++;
    } else {
      return bad;
    }
  }
  if (r.remaining !== 0) return bad;
  return { ok: true, generation, leases, quarantined };
}
