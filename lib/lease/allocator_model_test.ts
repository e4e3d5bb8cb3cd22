import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseAllocator } from "./allocator.ts";
import type { AllocatorOptions } from "./allocator.ts";
import { Ipv4Pool, makeCidr4 } from "../addr/mod.ts";
import type { PoolSpace } from "./pool_space.ts";
import type { Lease } from "./lease.ts";
import { Prng } from "../testing/prng.ts";

const MIN = 60_000;

interface ModelLease {
  v6: string;
  id: string;
  tep: string;
  exp: number;
  binding: number;
  teps: Set<string>;
}

type Outcome = { ok: true; ipv4: number; renewed?: boolean } | {
  ok: false;
  code: number;
  reason: string;
};

/** The naive reference: plain maps and linear scans, written straight from protocol.md §5.3. */
class Model {
  leases = new Map<number, ModelLease>();
  quar = new Map<number, number>();
  constructor(
    readonly addrs: number[],
    public o: Required<Omit<AllocatorOptions, "pool" | "initialCapacity">>,
  ) {}

  sweep(now: number): number[] {
    const gone: number[] = [];
    for (const [ip, l] of this.leases) {
      if (l.exp <= now) {
        this.leases.delete(ip);
        gone.push(ip);
        const q = Math.max(l.exp + this.o.quarantineMinMs, l.binding);
        if (q > now) this.quar.set(ip, q);
      }
    }
    for (const [ip, until] of this.quar) if (until <= now) this.quar.delete(ip);
    return gone.sort((a, b) => a - b);
  }

  held(v6: string, id: string): number | undefined {
    for (const [ip, l] of this.leases) if (l.v6 === v6 && l.id === id) return ip;
    return undefined;
  }

  /** Returns the outcome; for a new allocation, `pick` says which address the allocator chose. */
  create(
    v6: string,
    id: string,
    tep: string,
    req: number | undefined,
    life: number,
    now: number,
    pick: () => number,
  ): Outcome {
    this.sweep(now);
    const h = this.held(v6, id);
    if (req !== undefined && req !== h) return { ok: false, code: 308, reason: "address-mismatch" };
    if (h !== undefined) {
      this.leases.get(h)!.exp = now + life;
      return { ok: true, ipv4: h, renewed: true };
    }
    const all = [...this.leases.values()];
    if (all.filter((l) => l.v6 === v6).length >= this.o.maxPerIpv6) {
      return { ok: false, code: 301, reason: "limit-ipv6" };
    }
    if (all.filter((l) => l.v6.slice(0, 8) === v6.slice(0, 8)).length >= this.o.maxPerPrefix64) {
      return { ok: false, code: 301, reason: "limit-prefix64" };
    }
    if (id !== "" && all.filter((l) => l.id === id).length >= this.o.maxPerIdentity) {
      return { ok: false, code: 301, reason: "limit-identity" };
    }
    const free = this.addrs.filter((a) => !this.leases.has(a) && !this.quar.has(a));
    if (free.length === 0) return { ok: false, code: 306, reason: "pool-exhausted" };
    const ip = pick();
    assert.ok(free.includes(ip), `allocator picked ${ip}, not free in the model`);
    this.leases.set(ip, { v6, id, tep, exp: now + life, binding: 0, teps: new Set() });
    return { ok: true, ipv4: ip, renewed: false };
  }

  live(ip: number, now: number): Outcome {
    if (!this.addrs.includes(ip)) return { ok: false, code: 501, reason: "outside-pool" };
    const l = this.leases.get(ip);
    if (!l || l.exp <= now) return { ok: false, code: 308, reason: "not-leased" };
    return { ok: true, ipv4: ip };
  }

  release(ip: number, now: number, owner?: { v6: string; id: string }): Outcome {
    this.sweep(now);
    const r = this.live(ip, now);
    if (!r.ok) return r;
    const l = this.leases.get(ip)!;
    if (owner && (owner.v6 !== l.v6 || owner.id !== l.id)) {
      return { ok: false, code: 308, reason: "address-mismatch" };
    }
    this.leases.delete(ip);
    const q = Math.max(now + this.o.quarantineMinMs, l.binding);
    if (q > now) this.quar.set(ip, q);
    return r;
  }

  noteQuery(ip: number, tep: string, ttl: number, now: number): Outcome {
    this.sweep(now);
    const r = this.live(ip, now);
    if (!r.ok) return r;
    const l = this.leases.get(ip)!;
    if (tep !== l.tep) l.teps.add(tep);
    l.binding = Math.max(l.binding, now + ttl);
    return r;
  }

  reassign(ip: number, tep: string, now: number): Outcome {
    this.sweep(now);
    const r = this.live(ip, now);
    if (!r.ok) return r;
    const l = this.leases.get(ip)!;
    if (l.tep !== tep) {
      l.teps.add(l.tep);
      l.teps.delete(tep);
      l.tep = tep;
    }
    return r;
  }
}

function key(b: Uint8Array): string {
  return String.fromCharCode(...b);
}

function outcomeOf(
  r: { ok: true; lease: Lease; renewed?: boolean } | { ok: false; code: number; reason: string },
): Outcome {
  if (!r.ok) return { ok: false, code: r.code, reason: r.reason };
  return r.renewed === undefined
    ? { ok: true, ipv4: r.lease.ipv4 }
    : { ok: true, ipv4: r.lease.ipv4, renewed: r.renewed };
}

function assertLeaseMatches(m: Model, l: Lease, ctx: string): void {
  const ml = m.leases.get(l.ipv4);
  assert.ok(ml, `${ctx}: model has no lease for ${l.ipv4}`);
  assert.equal(key(l.clientIpv6), ml.v6, ctx);
  assert.equal(l.identity, ml.id, ctx);
  assert.equal(l.expiresAt, ml.exp, ctx);
  assert.equal(l.tep, ml.tep, ctx);
  assert.deepEqual(new Set(l.tepsThatQueried), ml.teps, ctx);
  assert.equal(l.bindingUntil, ml.binding, ctx);
}

function assertTablesMatch(m: Model, a: LeaseAllocator, ctx: string): void {
  const leases = [...a.leases()];
  assert.equal(leases.length, m.leases.size, `${ctx}: lease count`);
  for (const l of leases) assertLeaseMatches(m, l, ctx);
  const q = new Map([...a.quarantine()].map((e) => [e.ipv4, e.until]));
  assert.deepEqual(q, new Map([...m.quar].sort((x, y) => x[0] - y[0])), `${ctx}: quarantine`);
  const s = a.stats();
  assert.equal(s.available, m.addrs.length - m.leases.size - m.quar.size, `${ctx}: available`);
}

function runModel(
  seed: number,
  ops: number,
  pool: PoolSpace,
  opts: Model["o"],
  clients: number,
  changeLimits = false,
): void {
  const rng = new Prng(seed);
  const a = new LeaseAllocator({ pool, ...opts, initialCapacity: 4 });
  const shadow = new LeaseAllocator({ pool, ...opts, initialCapacity: 4 });
  const addrs: number[] = [];
  for (let i = 0; i < pool.size; i++) addrs.push(pool.addressAt(i));
  const m = new Model(addrs, opts);
  const v6s: Uint8Array[] = [];
  for (let k = 0; k < clients; k++) {
    const b = new Uint8Array(16);
    b.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, k % 5]);
    b[15] = k + 1;
    v6s.push(b);
  }
  const ids = ["", "alice", "bob", "carol"];
  const teps = ["tep1", "tep2", "tep3"];
  const someAddr = () =>
    rng.int(10) === 0 ? pool.addressAt(0) - 1 - rng.int(3) : addrs[rng.int(addrs.length)];
  let now = 1_000_000;
  const counts = new Map<string, number>();

  for (let step = 0; step < ops; step++) {
    const ctx = `seed ${seed} step ${step}`;
    const jump = rng.int(60);
    let boundary = false;
    if (jump === 0) now += rng.int(20 * MIN);
    else if (jump === 1 && a.pollAt() > now && a.pollAt() < Infinity) {
      now = a.pollAt(); // exactly on a deadline
      boundary = true;
    } else now += rng.int(5_000);
    if (changeLimits && rng.int(40) === 0) {
      // a reload: new limits for new leases, the table stays (Infinity turns a limit off)
      const pick = (hi: number) => (rng.int(5) === 0 ? Infinity : 1 + rng.int(hi));
      const limits = {
        maxPerIpv6: pick(3),
        maxPerPrefix64: pick(8),
        maxPerIdentity: pick(10),
      };
      a.setLimits(limits);
      m.o = { ...m.o, ...limits };
      assert.deepEqual(a.limits, limits, ctx);
      counts.set("limits", (counts.get("limits") ?? 0) + 1);
    }
    const op = rng.int(100);
    let got: Outcome;
    let want: Outcome;
    let kind: string;
    if (op < 45) {
      kind = "create";
      const c = rng.int(clients);
      const id = ids[rng.int(ids.length)];
      const tep = teps[rng.int(teps.length)];
      const life = (1 + rng.int(30)) * MIN;
      let req: number | undefined;
      const h = m.held(key(v6s[c]), id);
      const roll = rng.int(10);
      if (roll === 0) req = someAddr();
      else if (roll < 3 && h !== undefined) req = h;
      const r = a.create({
        clientIpv6: v6s[c],
        identity: id,
        tep,
        requestedIpv4: req,
        lifetimeMs: life,
      }, now);
      got = outcomeOf(r);
      want = m.create(key(v6s[c]), id, tep, req, life, now, () => (r.ok ? r.lease.ipv4 : -1));
      if (r.ok) assertLeaseMatches(m, r.lease, ctx);
    } else if (op < 60) {
      kind = "release";
      const ip = rng.int(3) === 0
        ? someAddr()
        : [...m.leases.keys()][rng.int(m.leases.size + 1)] ?? someAddr();
      let owner: { clientIpv6: Uint8Array; identity: string } | undefined;
      const l = m.leases.get(ip);
      if (rng.int(2) === 0) {
        owner = l && rng.int(4) !== 0
          ? { clientIpv6: v6s.find((b) => key(b) === l.v6)!, identity: l.id }
          : { clientIpv6: v6s[rng.int(clients)], identity: ids[rng.int(ids.length)] };
      }
      got = outcomeOf(a.release(ip, now, owner));
      want = m.release(ip, now, owner && { v6: key(owner.clientIpv6), id: owner.identity });
    } else if (op < 75) {
      kind = "query";
      const ip = rng.int(4) === 0
        ? someAddr()
        : [...m.leases.keys()][rng.int(m.leases.size + 1)] ?? someAddr();
      const tep = teps[rng.int(teps.length)];
      const ttl = rng.int(40) * MIN;
      const r = a.noteQuery(ip, tep, ttl, now);
      got = outcomeOf(r);
      want = m.noteQuery(ip, tep, ttl, now);
      if (r.ok) assertLeaseMatches(m, r.lease, ctx);
    } else if (op < 82) {
      kind = "reassign";
      const ip = [...m.leases.keys()][rng.int(m.leases.size + 1)] ?? someAddr();
      const tep = teps[rng.int(teps.length)];
      const r = a.reassign(ip, tep, now);
      got = outcomeOf(r);
      want = m.reassign(ip, tep, now);
      if (r.ok) assertLeaseMatches(m, r.lease, ctx);
    } else if (op < 92) {
      kind = "lookup";
      const ip = someAddr();
      const r = a.lookup(ip, now);
      got = outcomeOf(r);
      want = m.live(ip, now);
      if (r.ok) assertLeaseMatches(m, r.lease, ctx);
    } else {
      kind = "expire";
      const gone = a.expire(now).map((l) => l.ipv4).sort((x, y) => x - y);
      const want2 = m.sweep(now);
      assert.deepEqual(gone, want2, ctx);
      got = want = { ok: true, ipv4: 0 };
      assert.ok(a.pollAt() > now, ctx);
    }
    assert.deepEqual(got, want, `${ctx}: ${kind}`);
    const label = `${kind}:${got.ok ? "ok" : got.code}`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
    for (const e of a.drainEvents()) shadow.apply(e);
    if (step % 50 === 0 || boundary) {
      m.sweep(now);
      a.expire(now);
      assertTablesMatch(m, a, ctx);
      for (const e of a.drainEvents()) shadow.apply(e);
      shadow.expire(now);
      shadow.drainEvents();
      assertTablesMatch(m, shadow, `${ctx} (replayed)`);
    }
  }
  // every interesting outcome was exercised
  for (
    const label of [
      "create:ok",
      "create:301",
      "create:306",
      "create:308",
      "release:ok",
      "release:308",
      "release:501",
      "query:ok",
      "query:308",
      "reassign:ok",
    ]
  ) {
    assert.ok((counts.get(label) ?? 0) > 0, `seed ${seed}: never saw ${label} (${[...counts]})`);
  }
}

test("lease allocator model: 12k random operations on a small pool agree with the model", () => {
  // 198.51.100.0/27 minus three excluded addresses: 27 usable, so exhaustion and reuse are common
  const pool = new Ipv4Pool(makeCidr4(0xc6336400, 27), [0xc6336401, 0xc6336410, 0xc6336411]);
  runModel(1, 12_000, pool, {
    leaseMs: 10 * MIN,
    quarantineMinMs: 3 * MIN,
    maxPerIpv6: 2,
    maxPerPrefix64: 7,
    maxPerIdentity: 9,
  }, 40);
});

test("lease allocator model: 6k random operations with no quarantine minimum", () => {
  const pool = new Ipv4Pool(makeCidr4(0x0a000000, 27));
  runModel(2, 6_000, pool, {
    leaseMs: 10 * MIN,
    quarantineMinMs: 0,
    maxPerIpv6: 3,
    maxPerPrefix64: 8,
    maxPerIdentity: 12,
  }, 60);
});

test("lease allocator model: 6k random operations with the limits changed as they run", () => {
  const pool = new Ipv4Pool(makeCidr4(0xc6336400, 27), [0xc6336401]);
  runModel(
    3,
    6_000,
    pool,
    {
      leaseMs: 10 * MIN,
      quarantineMinMs: 2 * MIN,
      maxPerIpv6: 2,
      maxPerPrefix64: Infinity,
      maxPerIdentity: 9,
    },
    40,
    true,
  );
});
