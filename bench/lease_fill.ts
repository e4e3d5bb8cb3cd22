/**
 * Helper of the server benchmark: fill a server state directory with `count` leases through
 * `lib/lease` (the same `LeaseStore` the server opens), and time the allocator on the way.
 *
 *   deno run -A bench/lease_fill.ts '{"dir":"...","pool":"10.0.0.0/12","count":1000000}'
 *   deno run -A bench/lease_fill.ts '{"micro":true}'
 *
 * Fill mode prints `{ event: "filled", count, seconds, usPerCreate: { first, middle, last } }`
 * (microseconds per `create` over the first, middle and last 1000 of the fill). Leases are
 * anonymous, on TEP `tep1`, for client IPv6 addresses `2001:db8:8::<n>`, lifetime one day.
 *
 * Micro mode times `LeaseAllocator.create` alone (no journal) on /24, /16 and /12 pools at
 * empty, half full and nearly full, and prints `{ event: "micro", pools: [...] }`.
 *
 * @module
 */
import process from "node:process";
import { parseCidr4 } from "../lib/addr/cidr.ts";
import { Ipv4Pool } from "../lib/addr/pool.ts";
import { LeaseAllocator } from "../lib/lease/allocator.ts";
import { LeaseStore } from "../lib/lease/store.ts";

const DAY = 86_400_000;

function ipv6(n: number, base = 8): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 0x20;
  b[1] = 0x01;
  b[2] = 0x0d;
  b[3] = 0xb8;
  b[5] = base;
  b[12] = (n >>> 24) & 0xff;
  b[13] = (n >>> 16) & 0xff;
  b[14] = (n >>> 8) & 0xff;
  b[15] = n & 0xff;
  return b;
}

function pool(text: string): Ipv4Pool {
  const c = parseCidr4(text);
  if (!c.ok) throw new Error(`bad pool ${text}`);
  return new Ipv4Pool(c.value);
}

async function fill(cfg: { dir: string; pool: string; count: number }): Promise<void> {
  const allocator = new LeaseAllocator({ pool: pool(cfg.pool), leaseMs: DAY });
  const opened = LeaseStore.open({ dir: cfg.dir, allocator, sync: false });
  if (!opened.ok) throw new Error(`open ${cfg.dir}: ${opened.reason} ${opened.detail}`);
  const store = opened.store;
  const now = Date.now();
  const t0 = performance.now();
  const marks: Record<string, number> = {};
  const windows: [string, number][] = cfg.count >= 3000
    ? [["first", 0], ["middle", Math.floor(cfg.count / 2) - 500], ["last", cfg.count - 1000]]
    : [];
  let t = 0;
  for (let i = 0; i < cfg.count; i++) {
    for (const [name, at] of windows) {
      if (i === at) t = performance.now();
      // ms per 1000 creates = us per create
      if (i === at + 1000 - 1) marks[name] = Math.round((performance.now() - t) * 100) / 100;
    }
    const r = store.create({ clientIpv6: ipv6(i), identity: "", tep: "tep1" }, now);
    if (!r.result.ok) throw new Error(`create ${i}: ${r.result.reason}`);
    if ((i & 0xffff) === 0xffff) await store.flush();
  }
  await store.close();
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(
    JSON.stringify({
      event: "filled",
      count: cfg.count,
      seconds: Math.round(seconds * 100) / 100,
      usPerCreate: { first: marks.first, middle: marks.middle, last: marks.last },
    }) + "\n",
  );
}

function micro(): void {
  const out: unknown[] = [];
  // Warm the JIT first.
  const warm = new LeaseAllocator({ pool: pool("10.0.0.0/16"), leaseMs: DAY });
  for (let i = 0; i < 30_000; i++) {
    warm.create({ clientIpv6: ipv6(i, 10), identity: "", tep: "tep1" }, Date.now());
  }
  for (const p of ["10.0.0.0/24", "10.0.0.0/16", "10.0.0.0/12"]) {
    const space = pool(p);
    const a = new LeaseAllocator({ pool: space, leaseMs: DAY });
    const size = space.size;
    const now = Date.now();
    // Time creates in windows of 10 around each fill level: median and worst window mean.
    const levels: [string, number, number][] = [
      ["empty", 0, Math.min(500, Math.floor(size / 3))],
      ["half", Math.floor(size / 2), Math.min(500, Math.floor(size / 6))],
      [
        "nearlyFull",
        size - Math.min(500, Math.floor(size / 6)),
        Math.min(500, Math.floor(size / 6)),
      ],
    ];
    const res: Record<string, { median: number; max: number }> = {};
    let n = 0;
    for (const [k, from, count] of levels) {
      while (n < from) a.create({ clientIpv6: ipv6(n++, 9), identity: "", tep: "tep1" }, now);
      const per: number[] = [];
      for (let w = 0; w + 10 <= count; w += 10) {
        const t0 = performance.now();
        for (let i = 0; i < 10; i++) {
          const r = a.create({ clientIpv6: ipv6(n++, 9), identity: "", tep: "tep1" }, now);
          if (!r.ok) throw new Error(`micro ${p}: ${r.reason} at ${n}`);
        }
        per.push((performance.now() - t0) * 100); // us per create
      }
      per.sort((x, y) => x - y);
      res[k] = {
        median: Math.round(per[Math.floor(per.length / 2)] * 100) / 100,
        max: Math.round(per[per.length - 1] * 100) / 100,
      };
    }
    out.push({ pool: p, size, usPerCreate: res });
  }
  process.stdout.write(JSON.stringify({ event: "micro", pools: out }) + "\n");
}

const cfg = JSON.parse(process.argv[2] ?? "{}");
if (cfg.micro) micro();
else await fill(cfg);
