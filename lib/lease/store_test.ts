import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LeaseAllocator } from "./allocator.ts";
import type { AllocatorOptions } from "./allocator.ts";
import { Ipv4Pool, makeCidr4 } from "../addr/mod.ts";
import { LeaseStore } from "./store.ts";
import type { LeaseStoreOptions } from "./store.ts";
import {
  encodeJournalRecords,
  JOURNAL_HEADER_LENGTH,
  scanJournalRecords,
  writeJournalHeader,
} from "./journal.ts";
import { readSnapshot } from "./snapshot.ts";
import { Prng } from "../testing/prng.ts";

const MIN = 60_000;
const NET = 0xc6336400;

function v6(lo: number, hi = 0): Uint8Array {
  const b = new Uint8Array(16);
  b.set([0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, hi >> 8, hi & 0xff]);
  b[14] = (lo >> 8) & 0xff;
  b[15] = lo & 0xff;
  return b;
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "dstm-lease-"));
}

const ALLOC: Omit<AllocatorOptions, "pool"> = {
  leaseMs: 10 * MIN,
  quarantineMinMs: 2 * MIN,
  maxPerIpv6: 2,
};

function newAllocator(prefix = 24): LeaseAllocator {
  return new LeaseAllocator({ pool: new Ipv4Pool(makeCidr4(NET, prefix)), ...ALLOC });
}

function open(dir: string, extra: Partial<LeaseStoreOptions> = {}, prefix = 24) {
  const r = LeaseStore.open({ dir, allocator: newAllocator(prefix), ...extra });
  assert.ok(r.ok, `open failed: ${JSON.stringify(r)}`);
  return r;
}

/** Leases and quarantine of an allocator, after expiring what is due at `now`. */
function tableOf(a: LeaseAllocator, now: number) {
  a.expire(now);
  a.drainEvents();
  return { leases: [...a.leases()], quarantine: [...a.quarantine()] };
}

/** Load a snapshot file into an allocator. */
function restoreSnapshot(a: LeaseAllocator, snap: Uint8Array): void {
  const r = readSnapshot(snap, {
    lease: (l) => a.restoreLease(l),
    quarantine: (q) => a.restoreQuarantine(q),
  });
  assert.ok(r.ok);
}

function segments(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith("journal-")).sort();
}

/** Run a fixed workload on a store; returns the time reached. */
async function workload(store: LeaseStore, rounds: number, t0 = 0): Promise<number> {
  let t = t0;
  for (let k = 0; k < rounds; k++) {
    t += 5_000;
    const c = store.create(
      { clientIpv6: v6(k % 40), identity: `u${k % 3}`, tep: `tep${k % 2}` },
      t,
    );
    const r = c.result;
    if (r.ok && k % 4 === 0) store.noteQuery(r.lease.ipv4, "tepQ", 3 * MIN, t);
    if (r.ok && k % 6 === 0) store.release(r.lease.ipv4, t);
    if (r.ok && k % 9 === 0) store.reassign(r.lease.ipv4, "tep7", t);
    await c.durable;
  }
  await store.flush();
  return t;
}

test("lease store: a new directory opens empty; write, close, reopen gives the same table", async () => {
  const dir = tmpDir();
  try {
    const first = open(dir);
    assert.equal(first.recovery.snapshotFound, false);
    assert.equal(first.store.allocator.stats().leased, 0);
    const t = await workload(first.store, 120);
    const want = tableOf(first.store.allocator, t);
    await first.store.close();
    assert.throws(
      () => first.store.create({ clientIpv6: v6(1), identity: "", tep: "t" }, t),
      TypeError,
    );

    const second = open(dir);
    assert.equal(second.recovery.snapshotFound, true);
    assert.ok(second.recovery.recordsReplayed > 100, JSON.stringify(second.recovery));
    assert.deepEqual(second.recovery.torn, []);
    assert.deepEqual(tableOf(second.store.allocator, t), want);
    // reopening compacted: one snapshot and one (empty) segment
    assert.deepEqual(segments(dir), ["journal-0000000002"]);
    assert.ok(fs.existsSync(path.join(dir, "snapshot")));
    await second.store.close();

    const third = open(dir);
    assert.equal(third.recovery.recordsReplayed, 0);
    assert.ok(third.recovery.snapshotLeases > 0);
    assert.deepEqual(tableOf(third.store.allocator, t), want);
    await third.store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("lease store: appends in one tick share one sync, and durable settles after it", async () => {
  const dir = tmpDir();
  try {
    const { store } = open(dir);
    const before = store.stats();
    const pending: Promise<void>[] = [];
    let settled = 0;
    for (let k = 0; k < 50; k++) {
      const c = store.create({ clientIpv6: v6(k), identity: "", tep: "t" }, 1000);
      assert.ok(c.result.ok);
      assert.equal(c.events.length, 1);
      pending.push(c.durable.then(() => void settled++));
    }
    assert.equal(settled, 0, "nothing is durable before the batch is synced");
    assert.equal(store.stats().pendingBytes > 0, true);
    await Promise.all(pending);
    const after = store.stats();
    assert.equal(after.batches - before.batches, 1);
    assert.equal(after.records - before.records, 50);
    assert.equal(after.pendingBytes, 0);
    // a call that changes nothing needs no sync
    const miss = store.noteQuery(NET + 250, "t", MIN, 1000);
    assert.equal(miss.result.ok, false);
    assert.equal(miss.events.length, 0);
    await miss.durable;
    assert.equal(store.stats().batches, after.batches);
    // appends made while a sync runs go together into the next batch
    const a = store.create({ clientIpv6: v6(100), identity: "", tep: "t" }, 2000).durable;
    await Promise.resolve(); // let the first batch start syncing
    const more: Promise<void>[] = [];
    for (let k = 0; k < 20; k++) {
      more.push(store.create({ clientIpv6: v6(200 + k), identity: "", tep: "t" }, 2000).durable);
    }
    await Promise.all([a, ...more]);
    assert.ok(store.stats().batches - after.batches <= 2, JSON.stringify(store.stats()));
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("lease store: a torn last record is ignored at every byte offset", async () => {
  const dir = tmpDir();
  try {
    const { store } = open(dir);
    const t = await workload(store, 30);
    // the last record, on its own
    const last = store.create({ clientIpv6: v6(300, 9), identity: "zed", tep: "tepZ" }, t + 1);
    assert.ok(last.result.ok);
    const lastLen = encodeJournalRecords(last.events).length;
    await last.durable;
    await store.close();
    const seg = segments(dir);
    assert.equal(seg.length, 1);
    const segPath = path.join(dir, seg[0]);
    const full = fs.readFileSync(segPath);
    const lastStart = full.length - lastLen;

    // expected: the table without the last record
    const events = scanJournalRecords(full).events;
    const snap = fs.readFileSync(path.join(dir, "snapshot"));
    const wantBefore = (() => {
      const a = newAllocator();
      restoreSnapshot(a, snap);
      for (const e of events.slice(0, -1)) a.apply(e);
      return tableOf(a, t + 1);
    })();
    const wantAll = (() => {
      const a = newAllocator();
      restoreSnapshot(a, snap);
      for (const e of events) a.apply(e);
      return tableOf(a, t + 1);
    })();
    assert.notDeepEqual(wantAll, wantBefore);

    for (let cut = lastStart; cut <= full.length; cut++) {
      const copy = tmpDir();
      try {
        fs.copyFileSync(path.join(dir, "snapshot"), path.join(copy, "snapshot"));
        fs.writeFileSync(path.join(copy, seg[0]), full.subarray(0, cut));
        const r = open(copy);
        const want = cut === full.length ? wantAll : wantBefore;
        assert.deepEqual(tableOf(r.store.allocator, t + 1), want, `cut at ${cut}`);
        assert.equal(r.recovery.torn.length, cut === lastStart || cut === full.length ? 0 : 1);
        await r.store.close();
        // the damage is gone after the recovery's compaction
        const again = open(copy);
        assert.deepEqual(again.recovery.torn, []);
        assert.deepEqual(tableOf(again.store.allocator, t + 1), want);
        await again.store.close();
      } finally {
        fs.rmSync(copy, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("lease store: compaction keeps the table, drops old segments, and survives a reopen", async () => {
  const dir = tmpDir();
  try {
    const { store } = open(dir, { compactAfterBytes: 2048 });
    const gen0 = store.stats().generation;
    const t = await workload(store, 200);
    const s = store.stats();
    assert.ok(s.compactions >= 3, JSON.stringify(s));
    assert.ok(s.generation > gen0 + 1);
    assert.deepEqual(segments(dir), [`journal-${String(s.generation).padStart(10, "0")}`]);
    assert.ok(!fs.existsSync(path.join(dir, "snapshot.tmp")));
    // an explicit compaction, then more changes on top of it
    await store.compact();
    assert.equal(store.stats().journalBytes, JOURNAL_HEADER_LENGTH);
    const t2 = await workload(store, 20, t);
    const want = tableOf(store.allocator, t2);
    await store.close();
    const r = open(dir);
    assert.ok(r.recovery.snapshotLeases > 0);
    assert.ok(r.recovery.recordsReplayed > 0);
    assert.deepEqual(tableOf(r.store.allocator, t2), want);
    await r.store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("lease store: leftovers of an interrupted compaction are cleaned up", async () => {
  const dir = tmpDir();
  try {
    const { store } = open(dir);
    const t = await workload(store, 40);
    const want = tableOf(store.allocator, t);
    const gen = store.stats().generation;
    await store.close();
    // a crash mid-compaction: a half-written snapshot.tmp and a new segment with a torn header
    fs.writeFileSync(path.join(dir, "snapshot.tmp"), new Uint8Array([1, 2, 3]));
    const h = new Uint8Array(JOURNAL_HEADER_LENGTH);
    writeJournalHeader(gen + 1, h);
    fs.writeFileSync(
      path.join(dir, `journal-${String(gen + 1).padStart(10, "0")}`),
      h.subarray(0, 5),
    );
    // and a stale segment older than the snapshot, full of garbage
    fs.writeFileSync(path.join(dir, "journal-0000000000"), new Uint8Array(64).fill(0xee));
    const r = open(dir);
    assert.deepEqual(r.recovery.torn.map((x) => x.stop), ["truncated-header"]);
    assert.deepEqual(tableOf(r.store.allocator, t), want);
    assert.ok(!fs.existsSync(path.join(dir, "snapshot.tmp")));
    assert.deepEqual(segments(dir), [`journal-${String(gen + 2).padStart(10, "0")}`]);
    await r.store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("lease store: replaying the same records twice changes nothing", async () => {
  const dir = tmpDir();
  try {
    const { store } = open(dir);
    const t = await workload(store, 60);
    const want = tableOf(store.allocator, t);
    const seg = segments(dir)[0];
    await store.close();
    // the same records again in a later segment (as if a compaction had been replayed twice)
    const bytes = fs.readFileSync(path.join(dir, seg));
    const gen = Number(seg.slice(8));
    const dup = bytes.slice();
    writeJournalHeader(gen + 1, dup);
    fs.writeFileSync(path.join(dir, `journal-${String(gen + 1).padStart(10, "0")}`), dup);
    const once = scanJournalRecords(bytes).events.length;
    const r = open(dir);
    assert.equal(r.recovery.recordsReplayed + r.recovery.recordsWithoutEffect, 2 * once);
    assert.deepEqual(tableOf(r.store.allocator, t), want);
    await r.store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("lease store: random bytes as journal or snapshot give a defined error or an empty table", async () => {
  const rng = new Prng(5);
  for (let k = 0; k < 12; k++) {
    const dir = tmpDir();
    try {
      const name = k % 3 === 2 ? "snapshot" : "journal-0000000001";
      let bytes = rng.bytes(rng.int(400));
      if (k % 3 === 1) {
        // a valid header followed by garbage
        const h = new Uint8Array(JOURNAL_HEADER_LENGTH);
        writeJournalHeader(1, h);
        const b = new Uint8Array(h.length + bytes.length);
        b.set(h);
        b.set(bytes, h.length);
        bytes = b;
      }
      fs.writeFileSync(path.join(dir, name), bytes);
      const r = LeaseStore.open({ dir, allocator: newAllocator() });
      if (r.ok) {
        assert.equal(r.store.allocator.stats().leased, 0);
        await r.store.close();
      } else {
        assert.ok(["journal-damaged", "snapshot-damaged"].includes(r.reason), r.reason);
        assert.equal(r.file, name);
        assert.equal(typeof r.detail, "string");
      }
      if (k % 3 === 1) assert.ok(r.ok, "garbage after a good header is a torn tail");
      if (k % 3 === 2) assert.equal(r.ok ? "ok" : r.reason, "snapshot-damaged");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  // an unusable directory is an I/O error, not an exception
  const dir = tmpDir();
  try {
    const file = path.join(dir, "not-a-dir");
    fs.writeFileSync(file, "x");
    const r = LeaseStore.open({ dir: file, allocator: newAllocator() });
    assert.equal(r.ok ? "ok" : r.reason, "io-error");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => {
    const a = newAllocator();
    a.create({ clientIpv6: v6(1), identity: "", tep: "t" }, 0);
    LeaseStore.open({ dir: "/nonexistent-never-created", allocator: a });
  }, TypeError);
});

test("lease store: a crash at any point loses no acknowledged change and leases no address twice", async () => {
  // Crash images are copies of the directory taken while some appends are still unwritten (the
  // batch is written in a microtask, so a synchronous copy right after a call misses it).
  const rng = new Prng(11);
  const dir = tmpDir();
  const images: { dir: string; want: ReturnType<typeof tableOf>; now: number }[] = [];
  try {
    const { store } = open(dir, { compactAfterBytes: 3000 }, 28); // 14 addresses
    const a = store.allocator;
    let t = 0;
    let acked = tableOf(a, 0);
    let ackedAt = 0;
    let inFlight: Promise<void>[] = [];
    const copyDir = (): string => {
      const c = tmpDir();
      for (const n of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, n), path.join(c, n));
      return c;
    };
    for (let step = 0; step < 400; step++) {
      t += rng.int(30_000);
      const op = rng.int(10);
      let c;
      if (op < 6) {
        c = store.create({ clientIpv6: v6(rng.int(30)), identity: `u${rng.int(3)}`, tep: "t1" }, t);
      } else if (op < 8) {
        const all = [...a.leases()];
        c = all.length ? store.release(all[rng.int(all.length)].ipv4, t) : store.expire(t);
      } else {
        const all = [...a.leases()];
        c = all.length
          ? store.noteQuery(all[rng.int(all.length)].ipv4, "t2", rng.int(20) * MIN, t)
          : store.expire(t);
      }
      inFlight.push(c.durable);
      if (rng.int(8) === 0) {
        // a crash now: everything acknowledged so far must come back
        images.push({ dir: copyDir(), want: acked, now: ackedAt });
      }
      if (rng.int(4) === 0) {
        await Promise.all(inFlight);
        inFlight = [];
        // state as of now is acknowledged; snapshot it without disturbing the live table
        const probe = newAllocator(28);
        for (const l of a.leases()) probe.restoreLease(l);
        for (const q of a.quarantine()) probe.restoreQuarantine(q);
        acked = tableOf(probe, t);
        ackedAt = t;
        images.push({ dir: copyDir(), want: acked, now: ackedAt });
      }
    }
    await Promise.all(inFlight);
    assert.ok(store.stats().compactions > 2, "compactions happened between crash images");
    await store.close();
    assert.ok(images.length > 50, `${images.length} images`);
    for (const img of images) {
      const r = open(img.dir, {}, 28);
      const got = tableOf(r.store.allocator, img.now);
      assert.deepEqual(got, img.want);
      const ips = got.leases.map((l) => l.ipv4);
      assert.equal(new Set(ips).size, ips.length);
      await r.store.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const img of images) fs.rmSync(img.dir, { recursive: true, force: true });
  }
});

test("lease store: leases outside a shrunk pool are dropped and reported on open", async () => {
  const dir = tmpDir();
  try {
    const { store } = open(dir, {}, 24);
    for (let k = 0; k < 200; k++) {
      await store.create({ clientIpv6: v6(k, k), identity: "", tep: "t" }, 0).durable;
    }
    await store.close();
    // 198.51.100.0/25 keeps .1-.126 of the old .1-.254
    const r = open(dir, {}, 25);
    const leases = [...r.store.allocator.leases()];
    assert.equal(leases.length, 126);
    assert.ok(leases.every((l) => l.ipv4 > NET && l.ipv4 < NET + 127));
    assert.equal(r.recovery.outsidePool, 200 - 126);
    await r.store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const procFd = fs.existsSync("/proc/self/fd") ? undefined : "needs /proc/self/fd (Linux)";

test("lease store: a write failure stops the store for good", { skip: procFd }, async () => {
  const dir = tmpDir();
  try {
    const failures: Error[] = [];
    const { store } = open(dir, { onFailure: (e) => failures.push(e) });
    await store.create({ clientIpv6: v6(1), identity: "", tep: "t" }, 0).durable;
    // pull the journal's descriptor out from under the store
    const seg = path.join(fs.realpathSync(dir), segments(dir)[0]);
    let fd = -1;
    for (const n of fs.readdirSync("/proc/self/fd")) {
      try {
        if (fs.readlinkSync(`/proc/self/fd/${n}`) === seg) fd = Number(n);
      } catch {
        // descriptors come and go
      }
    }
    assert.ok(fd >= 0, "journal descriptor found");
    fs.closeSync(fd);
    const c = store.create({ clientIpv6: v6(2), identity: "", tep: "t" }, 1);
    assert.ok(c.result.ok, "the table still answers");
    await assert.rejects(c.durable);
    assert.equal(failures.length, 1);
    assert.ok(store.failure);
    await assert.rejects(store.create({ clientIpv6: v6(3), identity: "", tep: "t" }, 2).durable);
    await assert.rejects(store.flush());
    await assert.rejects(store.compact());
    assert.equal(failures.length, 1);
    await assert.rejects(store.close(), (e) => e === store.failure);
    // what was acknowledged is still there
    const r = open(dir);
    assert.deepEqual([...r.store.allocator.leases()].map((l) => l.clientIpv6[15]), [1]);
    await r.store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("lease store: bindingFloor covers bindings handed out but not journaled before a crash", async () => {
  const dir = tmpDir();
  try {
    const first = open(dir);
    const c = first.store.create({ clientIpv6: v6(1), identity: "u", tep: "tep1" }, 1_000);
    assert.ok(c.result.ok);
    await c.durable;
    const ipv4 = c.result.lease.ipv4;
    await first.store.close(); // a query reply may have gone out; its record did not reach disk
    const t = 60_000;
    const plain = open(dir);
    plain.store.release(ipv4, t + 1_000);
    const q0 = [...plain.store.allocator.quarantine()].find((q) => q.ipv4 === ipv4)!;
    assert.equal(q0.until, t + 1_000 + 2 * MIN, "without a floor: only the minimum quarantine");
    await plain.store.close();
    fs.rmSync(dir, { recursive: true, force: true });

    const again = open(tmpDir2(dir));
    const c2 = again.store.create({ clientIpv6: v6(1), identity: "u", tep: "tep1" }, 1_000);
    assert.ok(c2.result.ok);
    await c2.durable;
    const ipv4b = c2.result.lease.ipv4;
    await again.store.close();
    const floored = open(dir, { bindingFloor: { now: t, capMs: 5 * MIN } });
    floored.store.release(ipv4b, t + 1_000);
    const q1 = [...floored.store.allocator.quarantine()].find((q) => q.ipv4 === ipv4b)!;
    assert.equal(q1.until, t + 5 * MIN, "quarantined until the crash-time binding could expire");
    await floored.store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Recreate `dir` empty and return it. */
function tmpDir2(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
