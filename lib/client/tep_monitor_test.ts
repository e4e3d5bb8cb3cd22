import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_KEEPALIVE_SECONDS,
  keepaliveIntervalMs,
  TepMonitor,
  type TepMonitorAction,
  type TepMonitorOptions,
} from "./tep_monitor.ts";
import { Prng } from "../testing/prng.ts";

/** A monitor with no jitter (random 0.999...: the full interval) and first sequence number 0. */
function monitor(options: TepMonitorOptions = {}): TepMonitor {
  let first = true;
  return new TepMonitor({
    intervalMs: 10_000,
    random: () => {
      if (first) {
        first = false;
        return 0; // the first draw picks the initial sequence number
      }
      return 0.9999999;
    },
    ...options,
  });
}

function probes(acts: readonly TepMonitorAction[]): number[] {
  return acts.flatMap((a) => a.kind === "send-probe" ? [a.seq] : []);
}

function failures(acts: readonly TepMonitorAction[]): TepMonitorAction[] {
  return acts.filter((a) => a.kind === "tep-failed");
}

test("tep monitor: probes every interval; misses are counted and K misses declare failure", () => {
  const m = monitor();
  assert.equal(m.pollAt(), Infinity);
  assert.deepEqual(m.onTick(0), []);
  m.start(0);
  assert.equal(m.pollAt(), 10_000);
  assert.deepEqual(m.onTick(9_999), []);
  assert.deepEqual(m.onTick(10_000), [{ kind: "send-probe", seq: 0 }]);
  assert.equal(m.pollAt(), 20_000);
  assert.equal(m.status().misses, 0);
  // Probe 0 unanswered when probe 1 is due: miss 1.
  assert.deepEqual(m.onTick(20_000), [{ kind: "send-probe", seq: 1 }]);
  assert.equal(m.status().misses, 1);
  assert.deepEqual(m.onTick(30_000), [{ kind: "send-probe", seq: 2 }]);
  assert.equal(m.status().misses, 2);
  // Third miss: failure, declared before the next probe goes out.
  assert.deepEqual(m.onTick(40_000), [
    { kind: "tep-failed", reason: "timeout", misses: 3 },
    { kind: "send-probe", seq: 3 },
  ]);
  const st = m.status();
  assert.equal(st.failed, true);
  assert.equal(st.failures, 1);
  assert.equal(st.misses, 0);
  assert.equal(st.probesSent, 4);
  // Still dead: K more misses declare it again (the lease machine asks the server again).
  assert.deepEqual(failures(m.onTick(50_000)), []);
  assert.deepEqual(failures(m.onTick(60_000)), []);
  assert.deepEqual(failures(m.onTick(70_000)), [{
    kind: "tep-failed",
    reason: "timeout",
    misses: 3,
  }]);
  assert.equal(m.status().failures, 2);
});

test("tep monitor: a reply resets the misses, measures RTT, and clears a failure", () => {
  const m = monitor({ missLimit: 2 });
  m.start(0);
  m.onTick(10_000); // seq 0
  m.onTick(20_000); // seq 1, miss 1
  assert.equal(m.status().misses, 1);
  assert.deepEqual(m.onReply(1, 20_030), []);
  let st = m.status();
  assert.equal(st.misses, 0);
  assert.equal(st.lastRttMs, 30);
  assert.equal(st.srttMs, 30);
  assert.equal(st.lastReplyAt, 20_030);
  // A duplicate reply does not match twice; an unknown sequence number is ignored.
  assert.deepEqual(m.onReply(1, 20_040), []);
  assert.deepEqual(m.onReply(999, 20_040), []);
  assert.equal(m.status().unmatchedReplies, 2);
  assert.equal(m.status().repliesReceived, 1);
  // Probe 2 answered: no miss counted for it.
  m.onTick(30_000); // seq 2
  m.onReply(2, 30_010);
  assert.deepEqual(failures(m.onTick(40_000)), []); // seq 3
  assert.equal(m.status().misses, 0);
  assert.equal(m.status().srttMs, 30 + (10 - 30) / 8);
  // Fail it, then a late reply to an earlier probe still proves the TEP alive.
  m.onTick(50_000); // seq 4, miss 1 (seq 3)
  const f = m.onTick(60_000); // seq 5, miss 2 -> failed
  assert.equal(failures(f).length, 1);
  assert.equal(m.status().failed, true);
  assert.deepEqual(m.onReply(4, 60_500), [{ kind: "tep-recovered", rttMs: 10_500 }]);
  st = m.status();
  assert.equal(st.failed, false);
  assert.equal(st.misses, 0);
});

test("tep monitor: jitter keeps every interval within [0.75N, N]", () => {
  const prng = new Prng(42);
  const n = 30_000;
  const m = new TepMonitor({ intervalMs: n, random: () => prng.u32() / 2 ** 32 });
  let now = 5;
  m.start(now);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < 2_000; i++) {
    const gap = m.pollAt() - now;
    assert.ok(gap >= 0.75 * n && gap <= n, `gap ${gap}`);
    assert.ok(Number.isInteger(gap));
    lo = Math.min(lo, gap);
    hi = Math.max(hi, gap);
    now = m.pollAt();
    m.onTick(now);
  }
  // The draws spread over the whole range.
  assert.ok(lo < 0.76 * n && hi > 0.99 * n, `${lo}..${hi}`);
  // Extreme random values stay in bounds too.
  for (const r of [0, 0.9999999999, 1, -3, NaN]) {
    const x = new TepMonitor({ intervalMs: 1_001, random: () => r });
    x.start(0);
    assert.ok(x.pollAt() >= 751 && x.pollAt() <= 1_001, `${r}: ${x.pollAt()}`);
  }
});

test("tep monitor: ICMPv6 error with policy fail declares failure at once, counted once per probe", () => {
  const m = monitor();
  m.start(0);
  m.onTick(10_000); // seq 0
  assert.deepEqual(m.onIcmpError(10_005), [{ kind: "tep-failed", reason: "icmp", misses: 1 }]);
  assert.equal(m.status().failed, true);
  // More errors while failed: at most one miss for the probe out, no second failure.
  assert.deepEqual(m.onIcmpError(10_006), []);
  assert.deepEqual(m.onIcmpError(10_007), []);
  assert.equal(m.status().misses, 0); // probe 0 was spent by the failure itself
  m.onTick(20_000); // seq 1: probe 0 not counted again
  assert.equal(m.status().misses, 0);
  m.onIcmpError(20_001);
  m.onIcmpError(20_002);
  assert.equal(m.status().misses, 1);
  assert.equal(m.status().icmpErrors, 5);
  assert.equal(m.status().failures, 1);
  // After recovery one error declares failure again.
  m.onReply(1, 20_003);
  assert.equal(failures(m.onIcmpError(20_004)).length, 1);
  assert.equal(m.status().failures, 2);
});

test("tep monitor: ICMPv6 error with policy miss counts as the miss of the probe out", () => {
  const m = monitor({ icmpErrorPolicy: "miss" });
  m.start(0);
  assert.deepEqual(m.onIcmpError(1), []); // no probe out yet: nothing to count
  assert.equal(m.status().misses, 0);
  m.onTick(10_000); // seq 0
  assert.deepEqual(m.onIcmpError(10_001), []);
  assert.deepEqual(m.onIcmpError(10_002), []); // same probe: counted once
  assert.equal(m.status().misses, 1);
  m.onTick(20_000); // seq 1; probe 0 already counted
  assert.equal(m.status().misses, 1);
  m.onIcmpError(20_001);
  assert.equal(m.status().misses, 2);
  m.onTick(30_000); // seq 2
  assert.deepEqual(m.onIcmpError(30_001), [{ kind: "tep-failed", reason: "icmp", misses: 3 }]);
  assert.equal(m.status().failed, true);
});

test("tep monitor: start resets, stop silences, one probe per late tick", () => {
  const m = monitor();
  m.start(0);
  m.onTick(10_000);
  m.onTick(20_000);
  assert.equal(m.status().misses, 1);
  // A new TEP (reconfigure-tep) with a new keepalive interval.
  m.start(25_000, 4_000);
  assert.equal(m.status().misses, 0);
  assert.equal(m.status().intervalMs, 4_000);
  assert.equal(m.pollAt(), 29_000);
  // The reply to a probe sent to the old TEP no longer matches.
  assert.deepEqual(m.onReply(1, 25_001), []);
  assert.equal(m.status().unmatchedReplies, 1);
  // A tick long after the deadline sends one probe, not a burst.
  assert.equal(probes(m.onTick(1_000_000)).length, 1);
  assert.equal(m.pollAt(), 1_004_000);
  m.stop();
  assert.equal(m.pollAt(), Infinity);
  assert.deepEqual(m.onTick(2_000_000), []);
  assert.deepEqual(m.onIcmpError(2_000_000), []);
  assert.deepEqual(m.onReply(2, 2_000_000), []);
  assert.equal(m.status().active, false);
});

test("tep monitor: sequence numbers are 16-bit and wrap", () => {
  const m = new TepMonitor({ intervalMs: 1_000, random: () => 0.99999999 });
  m.start(0);
  const seqs: number[] = [];
  for (let i = 0; i < 3; i++) seqs.push(...probes(m.onTick(m.pollAt())));
  assert.deepEqual(seqs, [0xffff, 0, 1]);
  assert.deepEqual(m.onReply(0xffff, m.pollAt()), []);
  assert.equal(m.status().repliesReceived, 1);
});

test("tep monitor: keepalive interval comes from the lease or the default; bad options throw", () => {
  assert.equal(keepaliveIntervalMs(undefined), DEFAULT_KEEPALIVE_SECONDS * 1000);
  assert.equal(keepaliveIntervalMs(10), 10_000);
  assert.equal(keepaliveIntervalMs(0), 30_000);
  assert.equal(keepaliveIntervalMs(NaN, 5), 5_000);
  assert.throws(() => keepaliveIntervalMs(10, 0), RangeError);
  assert.throws(() => new TepMonitor({ intervalMs: 0 }), RangeError);
  assert.throws(() => new TepMonitor({ missLimit: 0 }), RangeError);
  assert.throws(() => new TepMonitor({ missLimit: 1.5 }), RangeError);
  assert.throws(
    () => new TepMonitor({ icmpErrorPolicy: "ignore" as unknown as "fail" }),
    RangeError,
  );
  assert.throws(() => new TepMonitor().start(0, -1), RangeError);
});

test("tep monitor: seeded random inputs never throw and keep pollAt in the future after a tick", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const prng = new Prng(seed);
    const m = new TepMonitor({
      intervalMs: 1_000 + prng.int(30_000),
      missLimit: 1 + prng.int(4),
      icmpErrorPolicy: prng.int(2) === 0 ? "fail" : "miss",
      random: () => prng.u32() / 2 ** 32,
    });
    let now = 0;
    let lastSeq = 0;
    for (let i = 0; i < 300; i++) {
      now += prng.int(20_000);
      const n = prng.int(10);
      if (n < 4) {
        for (const a of m.onTick(now)) if (a.kind === "send-probe") lastSeq = a.seq;
        if (m.status().active) assert.ok(m.pollAt() > now);
      } else if (n < 7) m.onReply(prng.int(3) === 0 ? prng.int(0x10000) : lastSeq, now);
      else if (n < 8) m.onIcmpError(now);
      else if (n < 9) m.start(now, prng.int(2) === 0 ? undefined : 500 + prng.int(10_000));
      else m.stop();
      const st = m.status();
      assert.ok(st.misses >= 0 && st.misses < 5);
    }
  }
});
