import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type BindingCheck,
  type BindingSource,
  BindingTable,
  type UpsertResult,
} from "./binding_table.ts";
import { parseIpv4, parseIpv6 } from "../addr/mod.ts";
import { Prng } from "../testing/prng.ts";

function v4(text: string): number {
  const r = parseIpv4(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

function v6(text: string): Uint8Array {
  const r = parseIpv6(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

const X = v4("198.51.100.7");
const X6 = v6("2001:db8:100::10");
const EVIL6 = v6("2001:db8:100::bad");
const MIN = 60_000;

test("tep binding table: a binding expires at its TTL (scripted clock)", () => {
  const t = new BindingTable({ capacity: 8, maxTtlMs: 15 * MIN });
  assert.equal(
    t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: 5 * MIN, source: "query" }, 1000),
    "inserted",
  );
  const slot = t.lookup(X, 1000);
  assert.ok(slot >= 0);
  assert.equal(t.expiresAt(slot), 1000 + 5 * MIN);
  assert.equal(t.pollAt(), 1000 + 5 * MIN);
  assert.ok(t.lookup(X, 1000 + 5 * MIN - 1) >= 0);
  assert.equal(t.lookup(X, 1000 + 5 * MIN), -1); // expired counts as missing...
  assert.equal(t.size, 0); // ...and is reclaimed on the spot
  assert.equal(t.pollAt(), Infinity);
  const s = t.stats();
  assert.equal(s.hits, 2);
  assert.equal(s.expiredHits, 1);
  assert.equal(s.swept, 1);
});

test("tep binding table: TTL = min(lifetime, local maximum)", () => {
  const t = new BindingTable({ capacity: 8, maxTtlMs: 10 * MIN });
  t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: 1440 * MIN, source: "push" }, 0);
  assert.equal(t.expiresAt(t.lookup(X, 0)), 10 * MIN);
  const Y = v4("198.51.100.8");
  t.upsert({ ipv4: Y, ipv6: X6, lifetimeMs: 2 * MIN, source: "push" }, 0);
  assert.equal(t.expiresAt(t.lookup(Y, 0)), 2 * MIN);
  assert.equal(t.pollAt(), 2 * MIN);
  // Refreshing moves the expiry (and the heap) both ways.
  assert.equal(
    t.upsert({ ipv4: Y, ipv6: X6, lifetimeMs: Infinity, source: "push" }, MIN),
    "refreshed",
  );
  assert.equal(t.pollAt(), 10 * MIN);
  assert.equal(t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: 1, source: "push" }, MIN), "refreshed");
  assert.equal(t.pollAt(), MIN + 1);
});

test("tep binding table: push replaces a query entry; a query does not replace a live push", () => {
  const t = new BindingTable({ capacity: 8 });
  assert.equal(t.upsert({ ipv4: X, ipv6: EVIL6, lifetimeMs: MIN, source: "query" }, 0), "inserted");
  assert.equal(
    t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: MIN, source: "push", tep: "tep1" }, 10),
    "replaced",
  );
  const slot = t.lookup(X, 10);
  assert.equal(t.sourceAt(slot), "push");
  assert.ok(t.matches(X, X6, 0, 10));
  assert.equal(
    t.upsert({ ipv4: X, ipv6: EVIL6, lifetimeMs: MIN, source: "query" }, 20),
    "kept-push",
  );
  assert.ok(t.matches(X, X6, 0, 20));
  // Once the push has expired, a query answer is installed.
  assert.equal(
    t.upsert({ ipv4: X, ipv6: EVIL6, lifetimeMs: MIN, source: "query" }, MIN + 10),
    "inserted",
  );
  assert.ok(t.matches(X, EVIL6, 0, MIN + 10));
  // Push over push with another IPv6 replaces.
  assert.equal(
    t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: MIN, source: "push" }, MIN + 20),
    "replaced",
  );
  assert.equal(
    t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: MIN, source: "push" }, MIN + 30),
    "refreshed",
  );
  const s = t.stats();
  assert.equal(s.keptPush, 1);
  assert.equal(s.replaced, 2);
});

test("tep binding table: server delete removes; lifetime 0 is not cached", () => {
  const t = new BindingTable({ capacity: 8 });
  t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: MIN, source: "push" }, 0);
  assert.ok(t.remove(X));
  assert.ok(!t.remove(X));
  assert.equal(t.lookup(X, 0), -1);
  assert.equal(t.check(X, X6, 0, 0), "no-binding");
  t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: MIN, source: "query" }, 0);
  assert.equal(t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: 0, source: "query" }, 1), "not-cached");
  assert.equal(t.size, 0);
  assert.equal(t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: 0, source: "push" }, 1), "not-cached");
  assert.equal(t.size, 0);
  assert.equal(t.stats().removed, 1);
});

test("tep binding table: the decapsulation check refuses another IPv6 for the same IPv4", () => {
  const t = new BindingTable({ capacity: 8 });
  t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: MIN, source: "push" }, 0);
  // The outer source inside a packet buffer, at offset 8 as in an IPv6 header.
  const pkt = new Uint8Array(40);
  pkt.set(X6, 8);
  assert.equal(t.check(X, pkt, 8, 1), "ok");
  assert.ok(t.matches(X, pkt, 8, 1));
  pkt.set(EVIL6, 8);
  assert.equal(t.check(X, pkt, 8, 1), "spoofed-source");
  assert.ok(!t.matches(X, pkt, 8, 1));
  pkt.set(X6, 8);
  assert.equal(t.check(v4("198.51.100.9"), pkt, 8, 1), "no-binding");
  assert.equal(t.check(X, pkt, 8, MIN), "binding-expired");
  assert.equal(t.check(X, pkt, 8, MIN), "no-binding"); // reclaimed by the first check
});

test("tep binding table: copyIpv6 writes the client address into a packet", () => {
  const t = new BindingTable({ capacity: 8 });
  const buf = new Uint8Array(20);
  buf.set(X6, 3);
  t.upsert({ ipv4: X, ipv6: buf, ipv6Off: 3, lifetimeMs: MIN, source: "query" }, 0);
  const out = new Uint8Array(40);
  const slot = t.lookup(X, 0);
  t.copyIpv6(slot, out, 24);
  assert.deepEqual(out.subarray(24, 40), X6);
  assert.ok(t.ipv6Equals(slot, out, 24));
  assert.equal(t.ipv4At(slot), X);
  assert.throws(() => t.copyIpv6(slot, out, 30), RangeError);
  assert.throws(() => t.copyIpv6(7, out, 0), RangeError); // empty slot
  assert.throws(() => t.expiresAt(-1), RangeError);
});

test("tep binding table: a full table refuses clearly, and reclaims an expired binding first", () => {
  const t = new BindingTable({ capacity: 3, maxTtlMs: 10 * MIN });
  for (let i = 1; i <= 3; i++) {
    assert.equal(
      t.upsert({ ipv4: X + i, ipv6: X6, lifetimeMs: i * MIN, source: "push" }, 0),
      "inserted",
    );
  }
  assert.equal(t.upsert({ ipv4: X + 4, ipv6: X6, lifetimeMs: MIN, source: "push" }, 0), "full");
  assert.equal(t.lookup(X + 4, 0), -1);
  assert.equal(t.stats().refusedFull, 1);
  // Updating a present binding still works when full.
  assert.equal(
    t.upsert({ ipv4: X + 3, ipv6: EVIL6, lifetimeMs: MIN, source: "push" }, 0),
    "replaced",
  );
  // At 1 min the binding of X+1 (and, refreshed, X+3) has expired: room for X+4.
  assert.equal(
    t.upsert({ ipv4: X + 4, ipv6: X6, lifetimeMs: MIN, source: "push" }, MIN),
    "inserted",
  );
  assert.equal(t.size, 3);
  assert.equal(t.lookup(X + 2, MIN), t.lookup(X + 2, MIN)); // still there
  assert.ok(t.lookup(X + 2, MIN) >= 0);
});

test("tep binding table: sweep at pollAt, entries for ctl, clear", () => {
  const t = new BindingTable({ capacity: 16 });
  const hi = v4("255.255.255.254"); // above 2^31: keys stay distinct
  t.upsert({ ipv4: hi, ipv6: X6, lifetimeMs: 3 * MIN, source: "push", tep: "tep2" }, 0);
  t.upsert({ ipv4: X, ipv6: EVIL6, lifetimeMs: MIN, source: "query" }, 0);
  t.upsert({ ipv4: 1, ipv6: X6, lifetimeMs: 2 * MIN, source: "query" }, 0);
  const e = t.entries(0);
  assert.deepEqual(e.map((b) => b.ipv4), [1, X, hi]);
  assert.deepEqual(e[2], {
    ipv4: hi,
    ipv6: X6,
    expiresAt: 3 * MIN,
    updatedAt: 0,
    source: "push",
    tep: "tep2",
  });
  assert.ok(!("tep" in e[0]));
  assert.equal(t.pollAt(), MIN);
  assert.equal(t.sweep(t.pollAt() - 1), 0);
  assert.equal(t.sweep(t.pollAt()), 1);
  assert.equal(t.pollAt(), 2 * MIN);
  assert.deepEqual(t.entries(2 * MIN).map((b) => b.ipv4), [hi]); // expired ones hidden
  assert.equal(t.size, 2);
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.pollAt(), Infinity);
});

test("tep binding table: programmer errors throw RangeError", () => {
  const t = new BindingTable({ capacity: 2 });
  const ok = { ipv4: X, ipv6: X6, lifetimeMs: MIN, source: "push" as BindingSource };
  assert.throws(() => t.upsert({ ...ok, ipv4: -1 }, 0), RangeError);
  assert.throws(() => t.upsert({ ...ok, ipv4: 2 ** 32 }, 0), RangeError);
  assert.throws(() => t.upsert({ ...ok, ipv6: new Uint8Array(15) }, 0), RangeError);
  assert.throws(() => t.upsert({ ...ok, ipv6Off: 1 }, 0), RangeError);
  assert.throws(() => t.upsert({ ...ok, lifetimeMs: -1 }, 0), RangeError);
  assert.throws(() => t.upsert({ ...ok, lifetimeMs: NaN }, 0), RangeError);
  assert.throws(() => t.upsert({ ...ok, source: "learned" as BindingSource }, 0), RangeError);
  assert.throws(() => new BindingTable({ capacity: 0 }), RangeError);
  assert.throws(() => new BindingTable({ maxTtlMs: 0 }), RangeError);
  assert.equal(t.size, 0);
});

interface ModelEntry {
  ipv6: number;
  expiresAt: number;
  source: BindingSource;
}

test("tep binding table: matches a naive Map model over 20k seeded random operations", () => {
  const rnd = new Prng(0x7e9b1d);
  const CAP = 24;
  const MAX_TTL = 5000;
  const t = new BindingTable({ capacity: CAP, maxTtlMs: MAX_TTL });
  // Held entries, including expired ones not reclaimed yet, as the table holds them.
  const held = new Map<number, ModelEntry>();
  const addrs = Array.from({ length: 40 }, (_, i) => (i < 20 ? 0xc6336400 + i : 0xfffff000 + i));
  const v6s = Array.from({ length: 4 }, (_, i) => {
    const b = new Uint8Array(16);
    b[0] = 0x20;
    b[1] = 0x01;
    b[15] = i + 1;
    return b;
  });
  const probe = new Uint8Array(32);
  let now = 0;
  const live = (e: ModelEntry | undefined) => e !== undefined && now < e.expiresAt;
  const liveCount = () => [...held.values()].filter(live).length;
  const reclaim = (k: number) => held.delete(k);
  for (let op = 0; op < 20_000; op++) {
    now += 1 + rnd.int(40); // strictly increasing: no two capped expiries tie
    const ipv4 = addrs[rnd.int(addrs.length)];
    const cur = held.get(ipv4);
    const r = rnd.int(100);
    if (r < 40) {
      const ipv6 = rnd.int(4);
      const source: BindingSource = rnd.int(2) === 0 ? "push" : "query";
      // Fractional lifetimes keep uncapped expiries distinct; some are 0 or above the cap.
      const lifetimeMs = rnd.int(10) === 0 ? 0 : rnd.int(2 * MAX_TTL) + rnd.u32() / 2 ** 32;
      let want: UpsertResult;
      if (live(cur) && source === "query" && cur!.source === "push") {
        want = "kept-push";
      } else {
        if (cur !== undefined && !live(cur)) reclaim(ipv4);
        const present = held.get(ipv4);
        if (lifetimeMs === 0) {
          reclaim(ipv4);
          want = "not-cached";
        } else {
          const expiresAt = now + Math.min(lifetimeMs, MAX_TTL);
          if (present !== undefined) {
            want = present.ipv6 === ipv6 && present.source === source ? "refreshed" : "replaced";
            held.set(ipv4, { ipv6, expiresAt, source });
          } else if (held.size < CAP) {
            want = "inserted";
            held.set(ipv4, { ipv6, expiresAt, source });
          } else {
            // Full: the table reclaims the earliest-expiring binding if it has expired.
            let minK = -1;
            let minE = Infinity;
            for (const [k, e] of held) if (e.expiresAt < minE) [minK, minE] = [k, e.expiresAt];
            if (minE <= now) {
              reclaim(minK);
              want = "inserted";
              held.set(ipv4, { ipv6, expiresAt, source });
            } else {
              want = "full";
            }
          }
        }
      }
      const got = t.upsert({ ipv4, ipv6: v6s[ipv6], lifetimeMs, source }, now);
      assert.equal(got, want, `op ${op}: upsert ${ipv4.toString(16)}`);
    } else if (r < 50) {
      const want = cur !== undefined;
      reclaim(ipv4);
      assert.equal(t.remove(ipv4), want, `op ${op}: remove`);
    } else if (r < 70) {
      const slot = t.lookup(ipv4, now);
      if (live(cur)) {
        assert.ok(slot >= 0, `op ${op}: lookup hit`);
        t.copyIpv6(slot, probe, 5);
        assert.deepEqual(probe.subarray(5, 21), v6s[cur!.ipv6]);
        assert.equal(t.expiresAt(slot), cur!.expiresAt);
        assert.equal(t.sourceAt(slot), cur!.source);
      } else {
        assert.equal(slot, -1, `op ${op}: lookup miss`);
        reclaim(ipv4);
      }
    } else if (r < 90) {
      const claimed = rnd.int(4);
      probe.set(v6s[claimed], 9);
      let want: BindingCheck;
      if (cur === undefined) want = "no-binding";
      else if (!live(cur)) {
        want = "binding-expired";
        reclaim(ipv4);
      } else want = cur.ipv6 === claimed ? "ok" : "spoofed-source";
      assert.equal(t.check(ipv4, probe, 9, now), want, `op ${op}: check`);
    } else if (r < 95) {
      let n = 0;
      for (const [k, e] of held) {
        if (e.expiresAt <= now) {
          held.delete(k);
          n++;
        }
      }
      assert.equal(t.sweep(now), n, `op ${op}: sweep`);
    } else {
      const want = [...held.entries()].filter(([, e]) => live(e)).map(([k]) => k)
        .sort((a, b) => a - b);
      assert.deepEqual(t.entries(now).map((e) => e.ipv4), want, `op ${op}: entries`);
    }
    assert.equal(t.size, held.size, `op ${op}: size`);
    const minExp = Math.min(...[...held.values()].map((e) => e.expiresAt));
    assert.equal(t.pollAt(), minExp, `op ${op}: pollAt`);
  }
  assert.ok(liveCount() <= CAP);
  const s = t.stats();
  // The run exercised every path.
  for (const k of ["inserted", "replaced", "refreshed", "keptPush", "notCached", "refusedFull"]) {
    assert.ok((s as unknown as Record<string, number>)[k] > 0, k);
  }
});

test("tep binding table: per-packet calls accept the signed 32-bit form of an address", () => {
  const t = new BindingTable({ capacity: 4 });
  t.upsert({ ipv4: X, ipv6: X6, lifetimeMs: MIN, source: "push" }, 0);
  assert.ok(X > 0x7fffffff && (X | 0) < 0);
  const slot = t.lookup(X | 0, 1);
  assert.equal(slot, t.lookup(X, 1));
  assert.equal(t.ipv4At(slot), X); // reported unsigned
  assert.equal(t.check(X | 0, X6, 0, 1), "ok");
  assert.ok(t.remove(X | 0));
});
