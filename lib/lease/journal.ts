/**
 * The lease journal's on-disk format: a segment header, then one framed record per
 * {@link LeaseEvent}. Pure codecs; the file handling is in `store.ts`.
 *
 * Segment header (16 bytes): `"DSTMLJ01"`, uint32 generation, uint32 CRC-32 of the first 12
 * bytes. Record: uint32 payload length, uint32 CRC-32 over the length field and the payload, then
 * the payload (all little-endian). A record cut short by a crash (torn tail) or damaged fails its
 * length or checksum test, and the scan stops before it.
 *
 * Payload: uint8 kind, float64 `at`, uint32 `ipv4`, then by kind:
 * 1 allocate: 16-byte client IPv6, float64 expiresAt, string identity, string tep;
 * 2 renew: float64 expiresAt; 3 release and 4 expire: float64 quarantineUntil;
 * 5 reassign: string tep; 6 binding: string tep, float64 until.
 * A string is a uint32 byte length and UTF-8.
 *
 * @module
 */

import type { LeaseEvent } from "./lease.ts";
import { crc32 } from "./crc32.ts";
import { ByteReader, ByteWriter } from "./byte_buffer.ts";

/** The 8 magic bytes opening a journal segment. */
export const JOURNAL_MAGIC: Uint8Array = new TextEncoder().encode("DSTMLJ01");
/** Length of a segment header. */
export const JOURNAL_HEADER_LENGTH = 16;
/** Length of a record's frame (length + checksum) before the payload. */
export const JOURNAL_FRAME_LENGTH = 8;
/** Largest payload accepted; anything longer is treated as damage. */
export const JOURNAL_MAX_PAYLOAD = 1 << 20;

const KIND_CODE = {
  allocate: 1,
  renew: 2,
  release: 3,
  expire: 4,
  reassign: 5,
  binding: 6,
} as const;

/** Write a segment header for `generation` into `out`; returns 16, or 0 if `out` is too short. */
export function writeJournalHeader(generation: number, out: Uint8Array): number {
  if (out.length < JOURNAL_HEADER_LENGTH) return 0;
  out.set(JOURNAL_MAGIC, 0);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(8, generation >>> 0, true);
  dv.setUint32(12, crc32(out, 0, 12), true);
  return JOURNAL_HEADER_LENGTH;
}

/** Result of {@link parseJournalHeader}. */
export type JournalHeaderResult =
  | { readonly ok: true; readonly generation: number }
  | { readonly ok: false; readonly reason: "truncated" | "bad-magic" | "bad-checksum" };

/** Parse a segment header; never throws. */
export function parseJournalHeader(bytes: Uint8Array): JournalHeaderResult {
  const n = Math.min(bytes.length, 8);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== JOURNAL_MAGIC[i]) return { ok: false, reason: "bad-magic" };
  }
  if (bytes.length < JOURNAL_HEADER_LENGTH) return { ok: false, reason: "truncated" };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(12, true) !== crc32(bytes, 0, 12)) return { ok: false, reason: "bad-checksum" };
  return { ok: true, generation: dv.getUint32(8, true) };
}

/** Append the framed record for `ev` to `w`; returns the record's length. */
export function appendJournalRecord(w: ByteWriter, ev: LeaseEvent): number {
  const start = w.length;
  w.u32(0);
  w.u32(0);
  w.u8(KIND_CODE[ev.kind]);
  w.f64(ev.at);
  w.u32(ev.ipv4);
  switch (ev.kind) {
    case "allocate":
      if (ev.clientIpv6.length >= 16) w.rawFrom(ev.clientIpv6, 0, 16);
      else w.raw(ev.clientIpv6);
      w.f64(ev.expiresAt);
      w.str(ev.identity);
      w.str(ev.tep);
      break;
    case "renew":
      w.f64(ev.expiresAt);
      break;
    case "release":
    case "expire":
      w.f64(ev.quarantineUntil);
      break;
    case "reassign":
      w.str(ev.tep);
      break;
    case "binding":
      w.str(ev.tep);
      w.f64(ev.until);
      break;
  }
  const len = w.length - start - JOURNAL_FRAME_LENGTH;
  w.setU32(start, len);
  const b = w.bytes();
  const c = crc32(b, start + JOURNAL_FRAME_LENGTH, w.length, crc32(b, start, start + 4));
  w.setU32(start + 4, c);
  return w.length - start;
}

/** Result of {@link parseJournalPayload}. */
export type JournalPayloadResult =
  | { readonly ok: true; readonly event: LeaseEvent }
  | {
    readonly ok: false;
    readonly reason: "truncated" | "bad-kind" | "bad-value" | "trailing-bytes";
  };

/** Decode one record payload (without its frame); never throws. */
export function parseJournalPayload(payload: Uint8Array): JournalPayloadResult {
  const r = new ByteReader(payload);
  const kind = r.u8();
  const at = r.f64();
  const ipv4 = r.u32();
  let ev: LeaseEvent;
  switch (kind) {
    case KIND_CODE.allocate: {
      const clientIpv6 = r.raw(16);
      const expiresAt = r.f64();
      const identity = r.str();
      const tep = r.str();
      ev = { kind: "allocate", at, ipv4, clientIpv6, identity, tep, expiresAt };
      if (!r.failed && (tep === "" || !Number.isFinite(expiresAt))) {
        return { ok: false, reason: "bad-value" };
      }
      break;
    }
    case KIND_CODE.renew:
      ev = { kind: "renew", at, ipv4, expiresAt: r.f64() };
      if (!r.failed && !Number.isFinite(ev.expiresAt)) return { ok: false, reason: "bad-value" };
      break;
    case KIND_CODE.release:
    case KIND_CODE.expire: {
      const quarantineUntil = r.f64();
      if (!r.failed && Number.isNaN(quarantineUntil)) return { ok: false, reason: "bad-value" };
      ev = kind === KIND_CODE.release
        ? { kind: "release", at, ipv4, quarantineUntil }
        : { kind: "expire", at, ipv4, quarantineUntil };
      break;
    }
    case KIND_CODE.reassign:
      ev = { kind: "reassign", at, ipv4, tep: r.str() };
      if (!r.failed && ev.tep === "") return { ok: false, reason: "bad-value" };
      break;
    case KIND_CODE.binding: {
      const tep = r.str();
      const until = r.f64();
      if (!r.failed && (tep === "" || Number.isNaN(until))) {
        return { ok: false, reason: "bad-value" };
      }
      ev = { kind: "binding", at, ipv4, tep, until };
      break;
    }
    default:
      return { ok: false, reason: r.failed ? "truncated" : "bad-kind" };
  }
  if (r.failed) return { ok: false, reason: "truncated" };
  if (!Number.isFinite(at)) return { ok: false, reason: "bad-value" };
  if (r.remaining !== 0) return { ok: false, reason: "trailing-bytes" };
  return { ok: true, event: ev };
}

/** Why a journal scan stopped. `"end"`: clean end of data; anything else: a torn or damaged tail. */
export type JournalStop = "end" | "truncated" | "bad-length" | "bad-checksum" | "bad-record";

/** Result of {@link scanJournalRecords}. */
export interface JournalScan {
  /** Decoded events, in order. */
  readonly events: LeaseEvent[];
  /** Offset just past the last good record (where appending may resume). */
  readonly end: number;
  /** Why the scan stopped. */
  readonly stop: JournalStop;
}

/**
 * Decode records from `bytes[start..]` until the data ends or a record fails its frame, checksum
 * or payload checks (a torn tail); never throws.
 */
export function scanJournalRecords(bytes: Uint8Array, start = JOURNAL_HEADER_LENGTH): JournalScan {
  const events: LeaseEvent[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  let stop: JournalStop = "end";
  while (pos < bytes.length) {
    if (bytes.length - pos < JOURNAL_FRAME_LENGTH) {
      stop = "truncated";
      break;
    }
    const len = dv.getUint32(pos, true);
    if (len === 0 || len > JOURNAL_MAX_PAYLOAD) {
      stop = "bad-length";
      break;
    }
    if (bytes.length - pos - JOURNAL_FRAME_LENGTH < len) {
      stop = "truncated";
      break;
    }
    const body = pos + JOURNAL_FRAME_LENGTH;
    const c = crc32(bytes, body, body + len, crc32(bytes, pos, pos + 4));
    if (c !== dv.getUint32(pos + 4, true)) {
      stop = "bad-checksum";
      break;
    }
    const p = parseJournalPayload(bytes.subarray(body, body + len));
    if (!p.ok) {
      stop = "bad-record";
      break;
    }
    events.push(p.event);
    pos = body + len;
  }
  return { events, end: pos, stop };
}

/** Encode events as framed records (convenience for tests and tools). */
export function encodeJournalRecords(events: readonly LeaseEvent[]): Uint8Array {
  const w = new ByteWriter(64 * events.length + 16);
  for (const e of events) appendJournalRecord(w, e);
  return w.bytes().slice();
}
