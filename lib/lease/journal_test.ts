import { test } from "node:test";
import assert from "node:assert/strict";
import {
  appendJournalRecord,
  encodeJournalRecords,
  JOURNAL_HEADER_LENGTH,
  parseJournalHeader,
  parseJournalPayload,
  scanJournalRecords,
  writeJournalHeader,
} from "./journal.ts";
import { crc32 } from "./crc32.ts";
import { ByteReader, ByteWriter, utf8Length } from "./byte_buffer.ts";
import type { Lease, LeaseEvent } from "./lease.ts";
import { listSnapshotSource, readSnapshot, writeSnapshot } from "./snapshot.ts";
import type { QuarantineEntry } from "./allocator.ts";
import { Prng } from "../testing/prng.ts";

const V6 = Uint8Array.from([0x20, 1, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]);

const EVENTS: LeaseEvent[] = [
  {
    kind: "allocate",
    at: 1_700_000_000_000,
    ipv4: 0xc6336407,
    clientIpv6: V6,
    identity: "alice",
    tep: "tep1",
    expiresAt: 1_700_086_400_000,
  },
  { kind: "renew", at: 1_700_000_100_000, ipv4: 0xc6336407, expiresAt: 1_700_090_000_000 },
  {
    kind: "binding",
    at: 1_700_000_200_000,
    ipv4: 0xc6336407,
    tep: "tep2",
    until: 1_700_000_500_000,
  },
  { kind: "reassign", at: 1_700_000_300_000, ipv4: 0xc6336407, tep: "tép-ü 😀" },
  { kind: "release", at: 1_700_000_400_000, ipv4: 0xc6336407, quarantineUntil: 1_700_000_900_000 },
  {
    kind: "allocate",
    at: 1_700_000_400_001,
    ipv4: 0xffffffff,
    clientIpv6: V6,
    identity: "",
    tep: "t",
    expiresAt: 1_700_000_400_002,
  },
  { kind: "expire", at: 1_700_000_400_002, ipv4: 0xffffffff, quarantineUntil: 1_700_000_400_002 },
];

function withHeader(records: Uint8Array, gen = 1): Uint8Array {
  const b = new Uint8Array(JOURNAL_HEADER_LENGTH + records.length);
  writeJournalHeader(gen, b);
  b.set(records, JOURNAL_HEADER_LENGTH);
  return b;
}

test("lease journal: crc32 matches the standard check value and chains", () => {
  const data = new TextEncoder().encode("123456789");
  assert.equal(crc32(data), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(data, 4, 9, crc32(data, 0, 4)), 0xcbf43926);
});

test("lease journal: byte buffer strings, lengths and checked reads", () => {
  for (const s of ["", "a", "é", "€", "😀", "a\ud800b", "x".repeat(5000)]) {
    assert.equal(utf8Length(s), new TextEncoder().encode(s).length, JSON.stringify(s.slice(0, 9)));
  }
  const w = new ByteWriter(16);
  w.str("héllo");
  w.u16(0xbeef);
  w.f64(-1.5);
  const r = new ByteReader(w.bytes());
  assert.equal(r.str(), "héllo");
  assert.equal(r.u16(), 0xbeef);
  assert.equal(r.f64(), -1.5);
  assert.equal(r.failed, false);
  assert.equal(r.u32(), 0);
  assert.equal(r.failed, true);
  // reading through a subarray honours its offset
  const outer = new Uint8Array(10);
  outer.set([9, 9, 1, 0, 0, 0, 7], 0);
  assert.equal(new ByteReader(outer.subarray(2)).u32(), 1);
  // invalid UTF-8 fails instead of throwing
  assert.equal(new ByteReader(Uint8Array.from([1, 0, 0, 0, 0xff])).str(), "");
});

test("lease journal: header round trip, truncation and damage", () => {
  const h = new Uint8Array(JOURNAL_HEADER_LENGTH);
  assert.equal(writeJournalHeader(42, h), JOURNAL_HEADER_LENGTH);
  assert.deepEqual(parseJournalHeader(h), { ok: true, generation: 42 });
  assert.equal(writeJournalHeader(1, new Uint8Array(15)), 0);
  for (let n = 0; n < JOURNAL_HEADER_LENGTH; n++) {
    assert.deepEqual(parseJournalHeader(h.subarray(0, n)), { ok: false, reason: "truncated" });
  }
  const bad = h.slice();
  bad[9] ^= 1;
  assert.deepEqual(parseJournalHeader(bad), { ok: false, reason: "bad-checksum" });
  const magic = h.slice();
  magic[0] = 0x41;
  assert.deepEqual(parseJournalHeader(magic), { ok: false, reason: "bad-magic" });
});

test("lease journal: every event kind round-trips", () => {
  const file = withHeader(encodeJournalRecords(EVENTS));
  const scan = scanJournalRecords(file);
  assert.equal(scan.stop, "end");
  assert.equal(scan.end, file.length);
  assert.deepEqual(scan.events, EVENTS);
  // the lease copy carried by release/expire events is not journaled
  const w = new ByteWriter(8);
  const lease: Lease = {
    ipv4: 1,
    clientIpv6: V6,
    identity: "",
    expiresAt: 1,
    tep: "t",
    tepsThatQueried: new Set(),
    bindingUntil: 0,
  };
  appendJournalRecord(w, { kind: "expire", at: 5, ipv4: 1, quarantineUntil: 9, lease });
  assert.deepEqual(scanJournalRecords(w.bytes(), 0).events, [
    { kind: "expire", at: 5, ipv4: 1, quarantineUntil: 9 },
  ]);
});

test("lease journal: a torn last record is dropped at every byte offset", () => {
  const before = encodeJournalRecords(EVENTS.slice(0, -1));
  const all = withHeader(encodeJournalRecords(EVENTS));
  const lastStart = JOURNAL_HEADER_LENGTH + before.length;
  for (let cut = lastStart; cut < all.length; cut++) {
    const scan = scanJournalRecords(all.subarray(0, cut));
    assert.deepEqual(scan.events, EVENTS.slice(0, -1), `cut at ${cut}`);
    assert.equal(scan.end, lastStart);
    assert.equal(scan.stop, cut === lastStart ? "end" : "truncated");
  }
});

test("lease journal: any single damaged byte in the last record stops the scan before it", () => {
  const all = withHeader(encodeJournalRecords(EVENTS));
  const lastStart = JOURNAL_HEADER_LENGTH + encodeJournalRecords(EVENTS.slice(0, -1)).length;
  for (let i = lastStart; i < all.length; i++) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const b = all.slice();
      b[i] ^= flip;
      const scan = scanJournalRecords(b);
      assert.deepEqual(scan.events, EVENTS.slice(0, -1), `byte ${i} ^ ${flip}`);
      assert.notEqual(scan.stop, "end");
    }
  }
});

test("lease journal: payloads with valid checksums but bad contents are refused", () => {
  const frame = (payload: Uint8Array) => {
    const w = new ByteWriter(8);
    w.u32(payload.length);
    w.u32(0);
    w.raw(payload);
    const b = w.bytes().slice();
    const c = crc32(b, 8, b.length, crc32(b, 0, 4));
    new DataView(b.buffer).setUint32(4, c, true);
    return b;
  };
  const good = encodeJournalRecords([EVENTS[1]]).subarray(8);
  assert.ok(parseJournalPayload(good).ok);
  const kind = good.slice();
  kind[0] = 99;
  assert.deepEqual(parseJournalPayload(kind), { ok: false, reason: "bad-kind" });
  const longer = new Uint8Array(good.length + 1);
  longer.set(good);
  assert.deepEqual(parseJournalPayload(longer), { ok: false, reason: "trailing-bytes" });
  assert.deepEqual(parseJournalPayload(good.subarray(0, 10)), { ok: false, reason: "truncated" });
  assert.deepEqual(parseJournalPayload(new Uint8Array(0)), { ok: false, reason: "truncated" });
  const nan = good.slice();
  new DataView(nan.buffer).setFloat64(1, NaN, true);
  assert.deepEqual(parseJournalPayload(nan), { ok: false, reason: "bad-value" });
  const scan = scanJournalRecords(withHeader(frame(kind)));
  assert.deepEqual([scan.stop, scan.events.length], ["bad-record", 0]);
  // a zero or huge length is damage, not an allocation request
  const zero = withHeader(new Uint8Array(8));
  assert.equal(scanJournalRecords(zero).stop, "bad-length");
  const huge = withHeader(Uint8Array.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1]));
  assert.equal(scanJournalRecords(huge).stop, "bad-length");
});

test("lease journal: random bytes never throw", () => {
  const rng = new Prng(99);
  for (let k = 0; k < 3000; k++) {
    const b = rng.bytes(rng.int(200));
    parseJournalHeader(b);
    parseJournalPayload(b);
    const s = scanJournalRecords(b, 0);
    assert.ok(s.end <= b.length);
    readSnapshot(b, { lease() {}, quarantine() {} });
  }
  // random bytes after a valid header, and random mutations of a valid journal
  const valid = withHeader(encodeJournalRecords(EVENTS));
  for (let k = 0; k < 3000; k++) {
    const b = k % 2 ? withHeader(rng.bytes(rng.int(300))) : valid.slice();
    if (k % 2 === 0) {
      for (let j = 0; j < 1 + rng.int(4); j++) b[rng.int(b.length)] = rng.u32() & 0xff;
    }
    const s = scanJournalRecords(b);
    assert.ok(s.end >= JOURNAL_HEADER_LENGTH && s.end <= b.length);
  }
});

function sampleLeases(n: number): Lease[] {
  const out: Lease[] = [];
  for (let i = 0; i < n; i++) {
    const v6 = V6.slice();
    v6[15] = i & 0xff;
    v6[14] = i >> 8;
    out.push({
      ipv4: 0x0a000000 + i,
      clientIpv6: v6,
      identity: i % 3 ? `user${i}` : "",
      expiresAt: 1e12 + i,
      tep: `tep${i % 4}`,
      tepsThatQueried: new Set(i % 5 ? [] : ["tepA", "tepé"]),
      bindingUntil: i % 5 ? 0 : 1e12 + 2 * i,
    });
  }
  return out;
}

test("lease snapshot: round trip in small chunks, and damage is detected", () => {
  const leases = sampleLeases(300);
  const quarantine: QuarantineEntry[] = [{ ipv4: 0x0b000001, until: 5 }, {
    ipv4: 0x0b000002,
    until: 6,
  }];
  const chunks: Uint8Array[] = [];
  writeSnapshot(7, listSnapshotSource(leases, quarantine), (c) => chunks.push(c.slice()), 100);
  assert.ok(chunks.length > 10);
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  const gotL: Lease[] = [];
  const gotQ: QuarantineEntry[] = [];
  const r = readSnapshot(bytes, { lease: (l) => gotL.push(l), quarantine: (q) => gotQ.push(q) });
  assert.deepEqual(r, { ok: true, generation: 7, leases: 300, quarantined: 2 });
  assert.deepEqual(gotL, leases);
  assert.deepEqual(gotQ, quarantine);
  // any cut or flipped byte: an error, and nothing visited
  for (const i of [0, 5, 9, 100, bytes.length - 5, bytes.length - 1]) {
    const b = bytes.slice();
    b[i] ^= 0x10;
    let visited = 0;
    const x = readSnapshot(b, { lease: () => visited++, quarantine: () => visited++ });
    assert.equal(x.ok, false, `flip ${i}`);
    assert.equal(visited, 0);
  }
  for (const n of [0, 3, 12, 100, bytes.length - 1]) {
    assert.equal(readSnapshot(bytes.subarray(0, n), { lease() {}, quarantine() {} }).ok, false);
  }
  // an empty table
  const empty: Uint8Array[] = [];
  writeSnapshot(1, listSnapshotSource([], []), (c) => empty.push(c.slice()));
  const e = new Uint8Array(empty.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of empty) {
    e.set(c, o);
    o += c.length;
  }
  assert.deepEqual(readSnapshot(e, { lease() {}, quarantine() {} }), {
    ok: true,
    generation: 1,
    leases: 0,
    quarantined: 0,
  });
});
