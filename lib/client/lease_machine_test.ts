import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type ClientLease,
  type ClientLeaseAction,
  type ClientLeaseEvent,
  type ClientLeaseState,
  createLeaseMachine,
  type HeldLease,
  type LeaseMachine,
  type LeaseMachineConfig,
  leasePollAt,
  MS_PER_MINUTE,
} from "./lease_machine.ts";
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

const X4 = v4("198.51.100.7");
const Y4 = v4("198.51.100.8");
const TEP1 = { ipv6: v6("2001:db8:ffff::1"), ipv4: v4("192.0.2.1") };
const TEP2 = { ipv6: v6("2001:db8:ffff::2"), ipv4: v4("192.0.2.2") };
const LIFE_MIN = 10;
const LIFE = LIFE_MIN * MS_PER_MINUTE;

function grant(ipv4 = X4, tep = TEP1, lifetimeMinutes = LIFE_MIN): ClientLease {
  return { ipv4, lifetimeMinutes, tep };
}

/** A random source that always returns `r` (0 = no jitter: the full delay). */
function fixed(r: number): () => number {
  return () => r;
}

function machine(config: LeaseMachineConfig = {}): LeaseMachine {
  return createLeaseMachine({ random: fixed(0), ...config });
}

/** Actions without the log lines. */
function work(acts: readonly ClientLeaseAction[]): ClientLeaseAction[] {
  return acts.filter((a) => a.kind !== "log");
}

function kinds(acts: readonly ClientLeaseAction[]): string[] {
  return work(acts).map((a) => a.kind);
}

/** Drive `m` from `s` through `events`, collecting every action. */
function drive(
  m: LeaseMachine,
  s: ClientLeaseState,
  ...events: ClientLeaseEvent[]
): [ClientLeaseState, ClientLeaseAction[]] {
  const all: ClientLeaseAction[] = [];
  for (const ev of events) {
    const [next, acts] = m.step(s, ev);
    all.push(...acts);
    s = next;
  }
  return [s, all];
}

/** Start at time 0 and get a grant at `at`. */
function boundAt(m: LeaseMachine, at = 1_000, lease = grant()): ClientLeaseState {
  const [s] = drive(m, m.initial, { kind: "start", now: 0 }, { kind: "granted", now: at, lease });
  assert.equal(s.phase, "bound");
  return s;
}

function heldOf(s: ClientLeaseState): HeldLease {
  if (s.phase !== "bound" && s.phase !== "renewing" && s.phase !== "expiring") {
    assert.fail(`no lease in ${s.phase}`);
  }
  return s.lease;
}

test("client lease: happy path requests, binds, renews at exactly T/2, rebinds with a new expiry", () => {
  const m = machine();
  let [s, acts] = m.step(m.initial, { kind: "start", now: 0 });
  assert.equal(s.phase, "requesting");
  assert.deepEqual(work(acts), [{ kind: "request", id: 1, reason: "initial", attempt: 0 }]);

  [s, acts] = m.step(s, { kind: "granted", now: 500, lease: grant(), id: 1 });
  assert.equal(s.phase, "bound");
  assert.deepEqual(kinds(acts), ["configure"]);
  const held = heldOf(s);
  assert.equal(held.ipv4, X4);
  assert.equal(held.t1, 500 + LIFE / 2);
  assert.equal(held.t2, 500 + LIFE * 0.875);
  assert.equal(held.expiresAt, 500 + LIFE);
  assert.equal(leasePollAt(s), 500 + LIFE / 2);
  assert.ok(acts.some((a) => a.kind === "log" && a.event === "lease.bound"));

  // One millisecond before T1: nothing happens, and the state is the same object.
  const [same, none] = m.step(s, { kind: "tick", now: 500 + LIFE / 2 - 1 });
  assert.equal(same, s);
  assert.deepEqual(none, []);

  // Exactly T1: a renewal carrying the current IPv4.
  [s, acts] = m.step(s, { kind: "tick", now: 500 + LIFE / 2 });
  assert.equal(s.phase, "renewing");
  assert.deepEqual(work(acts), [{ kind: "request", id: 2, reason: "renew", attempt: 0, ipv4: X4 }]);

  // Same address, same TEP: no reconfiguration, a new expiry.
  const renewedAt = 500 + LIFE / 2 + 40;
  [s, acts] = m.step(s, { kind: "granted", now: renewedAt, lease: grant(), id: 2 });
  assert.equal(s.phase, "bound");
  assert.deepEqual(kinds(acts), []);
  assert.ok(acts.some((a) => a.kind === "log" && a.event === "lease.renewed"));
  assert.equal(heldOf(s).expiresAt, renewedAt + LIFE);
  assert.equal(leasePollAt(s), renewedAt + LIFE / 2);
  assert.equal(s.counters.protocolErrors, 0);
});

test("client lease: failed renewals back off with growing delays, stop at T2, then expiry deconfigures", () => {
  const m = machine({ backoffInitialMs: 2_000, backoffMaxMs: 32_000 });
  let s = boundAt(m, 0, grant(X4, TEP1, 1)); // 60 s lease: T1 30 s, T2 52.5 s
  let acts: ClientLeaseAction[];
  [s, acts] = drive(m, s, { kind: "tick", now: 30_000 });
  assert.equal(s.phase, "renewing");
  const sends: number[] = [30_000];
  let now = 30_000;
  for (let i = 0; i < 20 && s.phase === "renewing"; i++) {
    now += 100;
    [s, acts] = drive(m, s, { kind: "failed", now, error: "ECONNREFUSED" });
    assert.deepEqual(kinds(acts), []);
    const at = leasePollAt(s);
    if (at >= 52_500) break;
    now = at;
    [s, acts] = drive(m, s, { kind: "tick", now });
    assert.deepEqual(kinds(acts), ["request"]);
    sends.push(now);
  }
  // Retries at +2 s, +4 s, +8 s after each failure (jitter 0 here), none at or after T2.
  const gaps = sends.slice(1).map((t, i) => t - sends[i] - 100);
  assert.deepEqual(gaps, [2_000, 4_000, 8_000]);
  assert.ok(sends.every((t) => t < 52_500));
  // The address stayed in use all along.
  assert.equal(s.phase, "renewing");
  assert.equal(leasePollAt(s), 52_500);
  [s, acts] = drive(m, s, { kind: "tick", now: 52_500 });
  assert.equal(s.phase, "expiring");
  assert.deepEqual(kinds(acts), []);
  assert.equal(leasePollAt(s), 60_000);
  [s, acts] = drive(m, s, { kind: "tick", now: 59_999 });
  assert.deepEqual(acts, []);
  [s, acts] = drive(m, s, { kind: "tick", now: 60_000 });
  assert.equal(s.phase, "expired");
  const w = work(acts);
  assert.equal(w.length, 1);
  assert.equal(w[0].kind, "deconfigure");
  if (w[0].kind === "deconfigure") {
    assert.equal(w[0].reason, "expired");
    assert.equal(w[0].lease.ipv4, X4);
  }
  // Policy "always": a new allocation after the first backoff step.
  assert.equal(leasePollAt(s), 62_000);
  [s, acts] = drive(m, s, { kind: "tick", now: 62_000 });
  assert.equal(s.phase, "requesting");
  assert.deepEqual(work(acts), [{ kind: "request", id: 6, reason: "reallocate", attempt: 0 }]);
});

test("client lease: backoff jitter draws from [(1 - jitter) × d, d] and is capped", () => {
  const lo = createLeaseMachine({ random: fixed(0.999999), backoffMaxMs: 10_000 });
  const hi = createLeaseMachine({ random: fixed(0), backoffMaxMs: 10_000 });
  assert.deepEqual([0, 1, 2, 3, 4, 10, 1000].map((n) => hi.backoffDelay(n)), [
    2_000,
    4_000,
    8_000,
    10_000,
    10_000,
    10_000,
    10_000,
  ]);
  assert.deepEqual([0, 1, 2, 3].map((n) => lo.backoffDelay(n)), [1_500, 3_000, 6_000, 7_500]);
  const prng = new Prng(7);
  const m = createLeaseMachine({ random: () => prng.u32() / 2 ** 32 });
  for (let i = 0; i < 200; i++) {
    const attempt = i % 8;
    const d = Math.min(60_000, 2_000 * 2 ** attempt);
    const got = m.backoffDelay(attempt);
    assert.ok(got >= 0.75 * d && got <= d, `${attempt}: ${got}`);
  }
  // A broken random source cannot produce a zero, negative or NaN delay.
  for (const r of [NaN, -1, 1, 5]) {
    const d = createLeaseMachine({ random: fixed(r) }).backoffDelay(0);
    assert.ok(d >= 1_500 && d <= 2_000, `${r}: ${d}`);
  }
});

test("client lease: refusal 308 on renewal deconfigures at once and re-requests after backoff", () => {
  const m = machine();
  let s = boundAt(m, 0);
  let acts: ClientLeaseAction[];
  [s] = drive(m, s, { kind: "tick", now: LIFE / 2 });
  [s, acts] = drive(m, s, { kind: "refused", now: LIFE / 2 + 10, code: 308 });
  assert.equal(s.phase, "expired");
  assert.deepEqual(kinds(acts), ["deconfigure"]);
  assert.equal(s.phase === "expired" && s.reason, "refused");
  const at = leasePollAt(s);
  assert.equal(at, LIFE / 2 + 10 + 2_000);
  [s, acts] = drive(m, s, { kind: "tick", now: at - 1 });
  assert.deepEqual(acts, []);
  [s, acts] = drive(m, s, { kind: "tick", now: at });
  assert.equal(s.phase, "requesting");
  const req = work(acts)[0];
  assert.equal(req.kind, "request");
  // A new allocation: no IPv4 in the request.
  assert.ok(req.kind === "request" && req.ipv4 === undefined && req.reason === "reallocate");
  // Another code on renewal is a retryable failure, not a loss of the address.
  let t = boundAt(m, 0);
  [t] = drive(m, t, { kind: "tick", now: LIFE / 2 });
  [t, acts] = drive(m, t, { kind: "refused", now: LIFE / 2 + 10, code: 530 });
  assert.equal(t.phase, "renewing");
  assert.deepEqual(kinds(acts), []);
});

test("client lease: on-demand policy waits for traffic before a new allocation", () => {
  const m = machine({ reallocate: "on-demand" });
  let s = boundAt(m, 0);
  let acts: ClientLeaseAction[];
  [s, acts] = drive(m, s, { kind: "server-delete", now: 5_000 });
  assert.equal(s.phase, "expired");
  assert.deepEqual(kinds(acts), ["deconfigure"]);
  assert.equal(leasePollAt(s), Infinity);
  [s, acts] = drive(m, s, { kind: "tick", now: 1_000_000 });
  assert.deepEqual(acts, []);
  [s, acts] = drive(m, s, { kind: "traffic", now: 1_000_001 });
  assert.equal(s.phase, "requesting");
  assert.deepEqual(kinds(acts), ["request"]);
  // Traffic before the backoff has passed waits for it.
  let t = boundAt(m, 0);
  [t] = drive(m, t, { kind: "server-delete", now: 5_000 });
  [t, acts] = drive(m, t, { kind: "traffic", now: 5_500 });
  assert.equal(t.phase, "expired");
  assert.deepEqual(acts, []);
  assert.equal(leasePollAt(t), 7_000);
  [t, acts] = drive(m, t, { kind: "tick", now: 7_000 });
  assert.deepEqual(kinds(acts), ["request"]);
  // Traffic means nothing in other phases.
  const b = boundAt(m, 0);
  const [b2, none] = m.step(b, { kind: "traffic", now: 10 });
  assert.equal(b2, b);
  assert.deepEqual(none, []);
});

test("client lease: server delete applies at once in every lease-holding phase", () => {
  const m = machine();
  const b = boundAt(m, 0);
  const [r] = drive(m, b, { kind: "tick", now: LIFE / 2 });
  const [e] = drive(m, r, { kind: "tick", now: LIFE * 0.875 });
  assert.deepEqual([b.phase, r.phase, e.phase], ["bound", "renewing", "expiring"]);
  for (const s of [b, r, e]) {
    const [next, acts] = m.step(s, { kind: "server-delete", now: LIFE * 0.9 });
    assert.equal(next.phase, "expired");
    const w = work(acts);
    assert.equal(w.length, 1);
    assert.ok(w[0].kind === "deconfigure" && w[0].reason === "deleted");
  }
  // Without a lease it is stale, not an error.
  const [q, acts] = m.step(m.initial, { kind: "start", now: 0 });
  assert.ok(acts.length > 0);
  const [q2, qa] = m.step(q, { kind: "server-delete", now: 1 });
  assert.deepEqual(kinds(qa), []);
  assert.equal(q2.counters.staleEvents, 1);
  assert.equal(q2.counters.protocolErrors, 0);
});

test("client lease: stop with a lease sends release, then deconfigure; released is terminal", () => {
  const m = machine();
  let s = boundAt(m, 0);
  let acts: ClientLeaseAction[];
  [s, acts] = drive(m, s, { kind: "stop", now: 10 });
  assert.equal(s.phase, "released");
  assert.deepEqual(kinds(acts), ["release", "deconfigure"]);
  const w = work(acts);
  assert.ok(w[1].kind === "deconfigure" && w[1].reason === "stopped");
  assert.equal(leasePollAt(s), Infinity);
  // Stopping again changes nothing.
  const [s2, a2] = m.step(s, { kind: "stop", now: 11 });
  assert.equal(s2, s);
  assert.deepEqual(a2, []);
  // Stop while renewing or past T2 releases too.
  for (const now of [LIFE / 2, LIFE * 0.875]) {
    const [r] = drive(m, boundAt(m, 0), { kind: "tick", now });
    const [, ra] = m.step(r, { kind: "stop", now: now + 1 });
    assert.deepEqual(kinds(ra), ["release", "deconfigure"]);
  }
  // Stop without a lease: nothing to release.
  for (const t of [m.initial, drive(m, m.initial, { kind: "start", now: 0 })[0]]) {
    const [r, ra] = m.step(t, { kind: "stop", now: 1 });
    assert.equal(r.phase, "released");
    assert.deepEqual(kinds(ra), []);
  }
  // A grant that crosses the stop is handed back, never configured.
  [s] = drive(m, m.initial, { kind: "start", now: 0 }, { kind: "stop", now: 1 });
  [s, acts] = drive(m, s, { kind: "granted", now: 2, lease: grant() });
  assert.equal(s.phase, "released");
  assert.deepEqual(kinds(acts), ["release"]);
});

test("client lease: a renewal naming another TEP swaps the tunnel and keeps the address", () => {
  const m = machine();
  let s = boundAt(m, 0);
  let acts: ClientLeaseAction[];
  [s] = drive(m, s, { kind: "tick", now: LIFE / 2 });
  [s, acts] = drive(m, s, { kind: "granted", now: LIFE / 2 + 5, lease: grant(X4, TEP2) });
  assert.equal(s.phase, "bound");
  const w = work(acts);
  assert.deepEqual(kinds(acts), ["reconfigure-tep"]);
  if (w[0].kind !== "reconfigure-tep") assert.fail();
  assert.deepEqual(w[0].lease.tep, TEP2);
  assert.deepEqual(w[0].previousTep, TEP1);
  assert.equal(w[0].lease.ipv4, X4);
  // A change of only the TEP's IPv4 counts as another TEP too.
  const [, a2] = m.step(s, {
    kind: "granted",
    now: LIFE / 2 + 6,
    lease: grant(X4, { ipv6: TEP2.ipv6, ipv4: v4("192.0.2.99") }),
  });
  assert.deepEqual(kinds(a2), ["reconfigure-tep"]);
});

test("client lease: a renewal returning another IPv4 deconfigures the old address and configures the new", () => {
  const m = machine();
  let s = boundAt(m, 0);
  let acts: ClientLeaseAction[];
  [s] = drive(m, s, { kind: "tick", now: LIFE / 2 });
  [s, acts] = drive(m, s, { kind: "granted", now: LIFE / 2 + 5, lease: grant(Y4, TEP2) });
  assert.deepEqual(kinds(acts), ["deconfigure", "configure"]);
  const w = work(acts);
  assert.ok(w[0].kind === "deconfigure" && w[0].lease.ipv4 === X4 && w[0].reason === "replaced");
  assert.ok(w[1].kind === "configure" && w[1].lease.ipv4 === Y4);
  assert.equal(heldOf(s).ipv4, Y4);
});

test("client lease: TEP failure renews at once and moves to the TEP the server names", () => {
  const m = machine();
  let s = boundAt(m, 0);
  let acts: ClientLeaseAction[];
  [s, acts] = drive(m, s, { kind: "tep-failed", now: 1_000, reason: "timeout" });
  assert.equal(s.phase, "renewing");
  assert.deepEqual(work(acts), [{
    kind: "request",
    id: 2,
    reason: "tep-failed",
    attempt: 0,
    ipv4: X4,
  }]);
  // A second report while asking does not send a second request.
  const [s2, a2] = m.step(s, { kind: "tep-failed", now: 1_100 });
  assert.equal(s2, s);
  assert.deepEqual(a2, []);
  // The server cannot be reached: backoff; a new TEP failure skips the rest of the backoff.
  [s, acts] = drive(m, s, { kind: "failed", now: 1_200, error: "timeout" });
  assert.equal(leasePollAt(s), 3_200);
  [s, acts] = drive(m, s, { kind: "tep-failed", now: 1_300 });
  assert.deepEqual(kinds(acts), ["request"]);
  [s, acts] = drive(m, s, { kind: "granted", now: 1_400, lease: grant(X4, TEP2) });
  assert.deepEqual(kinds(acts), ["reconfigure-tep"]);
  // Past T2 a TEP failure still asks once.
  let e = boundAt(m, 0);
  [e] = drive(m, e, { kind: "tick", now: LIFE / 2 }, { kind: "failed", now: LIFE / 2, error: "x" });
  [e] = drive(m, e, { kind: "tick", now: LIFE * 0.875 });
  assert.equal(e.phase, "expiring");
  [e, acts] = drive(m, e, { kind: "tep-failed", now: LIFE * 0.9 });
  assert.deepEqual(kinds(acts), ["request"]);
  [e, acts] = drive(m, e, { kind: "granted", now: LIFE * 0.9 + 1, lease: grant(X4, TEP2) });
  assert.equal(e.phase, "bound");
  assert.deepEqual(kinds(acts), ["reconfigure-tep"]);
  // Without a lease it is stale.
  const [q] = drive(m, m.initial, { kind: "start", now: 0 });
  const [q2, qa] = m.step(q, { kind: "tep-failed", now: 1 });
  assert.deepEqual(kinds(qa), []);
  assert.equal(q2.counters.staleEvents, 1);
});

test("client lease: first request failures retry forever with a capped interval", () => {
  const m = machine({ backoffInitialMs: 1_000, backoffMaxMs: 8_000 });
  let [s] = drive(m, m.initial, { kind: "start", now: 0 });
  let now = 0;
  const delays: number[] = [];
  for (let i = 0; i < 50; i++) {
    now += 10;
    const ev: ClientLeaseEvent = i % 2 === 0
      ? { kind: "failed", now, error: "ECONNREFUSED" }
      : { kind: "refused", now, code: 306 };
    [s] = drive(m, s, ev);
    assert.equal(s.phase, "requesting");
    const at = leasePollAt(s);
    delays.push(at - now);
    now = at;
    const [next, acts] = m.step(s, { kind: "tick", now });
    assert.deepEqual(kinds(acts), ["request"]);
    s = next;
  }
  assert.deepEqual(delays.slice(0, 5), [1_000, 2_000, 4_000, 8_000, 8_000]);
  assert.ok(delays.every((d) => d <= 8_000));
  // And a grant at last binds.
  const [b, acts] = m.step(s, { kind: "granted", now: now + 1, lease: grant() });
  assert.equal(b.phase, "bound");
  assert.deepEqual(kinds(acts), ["configure"]);
});

test("client lease: an unanswered request times out and counts as a failure; late negatives are stale", () => {
  const m = machine({ requestTimeoutMs: 5_000 });
  let [s] = drive(m, m.initial, { kind: "start", now: 0 });
  assert.equal(leasePollAt(s), 5_000);
  let acts: ClientLeaseAction[];
  [s, acts] = drive(m, s, { kind: "tick", now: 5_000 });
  assert.ok(acts.some((a) => a.kind === "log" && a.event === "lease.request-failed"));
  assert.equal(s.phase === "requesting" && s.pending.kind, "backoff");
  // The answer to request 1 arrives late: a failure is stale ...
  [s, acts] = drive(m, s, { kind: "failed", now: 5_100, error: "late", id: 1 });
  assert.equal(s.counters.staleEvents, 1);
  [s, acts] = drive(m, s, { kind: "tick", now: leasePollAt(s) });
  assert.deepEqual(work(acts).map((a) => a.kind === "request" && a.id), [2]);
  // ... a refusal for an old id while request 2 is out is stale as well ...
  [s, acts] = drive(m, s, { kind: "refused", now: 7_200, code: 306, id: 1 });
  assert.equal(s.counters.staleEvents, 2);
  assert.equal(s.phase === "requesting" && s.pending.kind, "in-flight");
  // ... but a grant is a lease whatever it answers.
  [s, acts] = drive(m, s, { kind: "granted", now: 7_300, lease: grant(), id: 1 });
  assert.equal(s.phase, "bound");
  // Renewal timeouts back off too.
  [s] = drive(m, s, { kind: "tick", now: 7_300 + LIFE / 2 });
  [s, acts] = drive(m, s, { kind: "tick", now: 7_300 + LIFE / 2 + 5_000 });
  assert.ok(acts.some((a) => a.kind === "log" && a.event === "lease.renew-failed"));
  assert.equal(s.phase === "renewing" && s.pending.kind, "backoff");
});

test("client lease: impossible events are counted protocol errors, never exceptions", () => {
  const m = machine();
  let s = m.initial;
  let acts: ClientLeaseAction[];
  [s, acts] = drive(m, s, { kind: "granted", now: 0, lease: grant() });
  assert.equal(s.phase, "idle");
  assert.equal(s.counters.protocolErrors, 1);
  assert.ok(acts.some((a) => a.kind === "log" && a.event === "lease.protocol-error"));
  [s] = drive(m, s, { kind: "refused", now: 0, code: 308 }, { kind: "failed", now: 0, error: "x" });
  assert.equal(s.counters.protocolErrors, 3);
  [s] = drive(m, s, { kind: "start", now: 0 }, { kind: "start", now: 1 });
  assert.equal(s.counters.protocolErrors, 4);
  // An unusable grant is an error and a failure of the request it answers.
  const bad: unknown[] = [
    { ...grant(), lifetimeMinutes: 0 },
    { ...grant(), lifetimeMinutes: NaN },
    { ...grant(), lifetimeMinutes: 1e12 },
    { ...grant(), ipv4: -1 },
    { ...grant(), tep: { ipv6: new Uint8Array(4), ipv4: 1 } },
    { ...grant(), tep: null },
    { ...grant(), keepaliveSeconds: -5 },
    null,
  ];
  for (const lease of bad) {
    const [r, ra] = m.step(s, { kind: "granted", now: 2, lease: lease as ClientLease });
    assert.equal(r.phase, "requesting");
    assert.equal(r.counters.protocolErrors, 5);
    assert.deepEqual(kinds(ra), []);
    assert.equal(r.phase === "requesting" && r.pending.kind, "backoff");
  }
  // Malformed and unknown events.
  for (
    const ev of [
      null,
      {},
      { kind: "tick" },
      { kind: "bogus", now: 1 },
      { kind: "tick", now: NaN },
      {
        kind: "start",
        now: Infinity,
      },
    ]
  ) {
    const [r] = m.step(s, ev as unknown as ClientLeaseEvent);
    assert.equal(r.counters.protocolErrors, s.counters.protocolErrors + 1);
  }
});

test("client lease: a clock jump past T2 or past expiry is handled in order", () => {
  const m = machine();
  // Past T2 without having tried: one last renewal attempt.
  let [s, acts] = drive(m, boundAt(m, 0), { kind: "tick", now: LIFE * 0.9 });
  assert.equal(s.phase, "expiring");
  assert.deepEqual(kinds(acts), ["request"]);
  [s, acts] = drive(m, s, { kind: "granted", now: LIFE * 0.9 + 1, lease: grant() });
  assert.equal(s.phase, "bound");
  assert.deepEqual(kinds(acts), []);
  // Past expiry: deconfigure, and with a long sleep the reallocation is due in the same tick.
  [s, acts] = drive(m, boundAt(m, 0), { kind: "tick", now: LIFE + 1 });
  assert.equal(s.phase, "expired");
  assert.deepEqual(kinds(acts), ["deconfigure"]);
  assert.ok(leasePollAt(s) > LIFE + 1);
});

test("client lease: configuration out of range throws RangeError", () => {
  assert.throws(() => createLeaseMachine({ backoffInitialMs: 0 }), RangeError);
  assert.throws(() => createLeaseMachine({ backoffMaxMs: 10, backoffInitialMs: 20 }), RangeError);
  assert.throws(() => createLeaseMachine({ backoffJitter: 1 }), RangeError);
  assert.throws(() => createLeaseMachine({ requestTimeoutMs: Infinity }), RangeError);
  assert.throws(
    () => createLeaseMachine({ reallocate: "sometimes" as unknown as "always" }),
    RangeError,
  );
});

// --- seeded random sequences -------------------------------------------------------------------

const TEPS = [TEP1, TEP2, { ipv6: v6("2001:db8:fffe::9"), ipv4: v4("192.0.2.9") }];
const ADDRS = [X4, Y4, v4("198.51.100.9")];

function randomEvent(prng: Prng, s: ClientLeaseState, now: number): ClientLeaseEvent {
  const n = prng.int(100);
  const id = prng.int(3) === 0 ? s.nextRequestId - 1 - prng.int(3) : undefined;
  const withId = id === undefined ? {} : { id };
  if (n < 30) return { kind: "tick", now };
  if (n < 45) {
    return {
      kind: "granted",
      now,
      lease: {
        ipv4: ADDRS[prng.int(ADDRS.length)],
        lifetimeMinutes: 1 + prng.int(5),
        tep: TEPS[prng.int(TEPS.length)],
        ...(prng.int(2) === 0 ? { keepaliveSeconds: 10 } : {}),
      },
      ...withId,
    };
  }
  if (n < 55) {
    return { kind: "refused", now, code: [306, 308, 308, 310, 530][prng.int(5)], ...withId };
  }
  if (n < 68) return { kind: "failed", now, error: "ECONNRESET", ...withId };
  if (n < 75) return { kind: "server-delete", now };
  if (n < 84) return { kind: "tep-failed", now };
  if (n < 92) return { kind: "traffic", now };
  if (n < 96) return { kind: "start", now };
  if (n < 97) return { kind: "stop", now };
  return { kind: "granted", now, lease: { ...grant(), lifetimeMinutes: -1 } };
}

/** Track what the shell has configured and check the machine never contradicts it. */
class ShellModel {
  configured: HeldLease | null = null;
  apply(acts: readonly ClientLeaseAction[], ctx: string): void {
    for (const a of acts) {
      switch (a.kind) {
        case "configure":
          assert.equal(this.configured, null, `${ctx}: configure over a configured address`);
          this.configured = a.lease;
          break;
        case "deconfigure":
          assert.notEqual(this.configured, null, `${ctx}: deconfigure with nothing configured`);
          assert.equal(
            a.lease.ipv4,
            this.configured!.ipv4,
            `${ctx}: deconfigure of another address`,
          );
          this.configured = null;
          break;
        case "reconfigure-tep":
          assert.notEqual(this.configured, null, `${ctx}: reconfigure-tep with nothing configured`);
          assert.equal(
            a.lease.ipv4,
            this.configured!.ipv4,
            `${ctx}: reconfigure-tep of another address`,
          );
          this.configured = a.lease;
          break;
        default:
          break;
      }
    }
  }
}

function seededMachine(prng: Prng, policy: "always" | "on-demand"): LeaseMachine {
  return createLeaseMachine({
    reallocate: policy,
    random: () => prng.u32() / 2 ** 32,
    requestTimeoutMs: 1_000 + prng.int(60_000),
  });
}

test("client lease: seeded random sequences never throw and never configure twice without deconfigure", () => {
  const seen = new Map<string, number>();
  const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
  for (let seed = 1; seed <= 60; seed++) {
    const prng = new Prng(seed);
    const m = seededMachine(prng, seed % 2 === 0 ? "always" : "on-demand");
    const shell = new ShellModel();
    let s = m.initial;
    let now = 0;
    if (seed % 4 !== 0) s = m.step(s, { kind: "start", now })[0];
    for (let i = 0; i < 400; i++) {
      const jump = prng.int(10);
      const at = leasePollAt(s);
      if (jump === 0 && at !== Infinity && at > now) now = at;
      else if (jump < 6) now += prng.int(5_000);
      else if (jump < 9) now += prng.int(200_000);
      const ev = randomEvent(prng, s, now);
      const ctx = `seed ${seed} step ${i} ${s.phase} + ${ev.kind}`;
      const [next, acts] = m.step(s, ev);
      shell.apply(acts, ctx);
      for (const a of acts) if (a.kind !== "log") count(a.kind);
      s = next;
      count(s.phase);
      const holds = s.phase === "bound" || s.phase === "renewing" || s.phase === "expiring";
      assert.equal(holds, shell.configured !== null, `${ctx}: phase ${s.phase} vs shell`);
      if (holds) assert.equal(heldOf(s).ipv4, shell.configured!.ipv4, ctx);
      if (ev.kind === "tick") assert.ok(leasePollAt(s) > now, `${ctx}: overdue after tick`);
      if (s.phase === "released") {
        assert.equal(shell.configured, null, ctx);
        break;
      }
    }
  }
  // The walk reaches every phase and every action kind.
  for (const k of ["requesting", "bound", "renewing", "expiring", "expired", "released"]) {
    assert.ok((seen.get(k) ?? 0) > 0, `phase ${k} never visited`);
  }
  for (const k of ["request", "configure", "reconfigure-tep", "deconfigure", "release"]) {
    assert.ok((seen.get(k) ?? 0) > 0, `action ${k} never produced`);
  }
});

test("client lease: pollAt always equals the next scheduled action", () => {
  for (let seed = 100; seed < 140; seed++) {
    const prng = new Prng(seed);
    const m = seededMachine(prng, seed % 2 === 0 ? "always" : "on-demand");
    let s = m.initial;
    let now = 0;
    let checked = 0;
    for (let i = 0; i < 300 && s.phase !== "released"; i++) {
      const at = leasePollAt(s);
      if (at !== Infinity) {
        // A tick just before the deadline changes nothing at all ...
        if (at - 1 >= now) {
          const [before, none] = m.step(s, { kind: "tick", now: at - 1 });
          assert.equal(before, s, `seed ${seed} step ${i}: state changed before pollAt`);
          assert.deepEqual(none, []);
        }
        // ... and a tick exactly at it acts.
        const t = Math.max(at, now);
        const [after, acts] = m.step(s, { kind: "tick", now: t });
        assert.ok(acts.length > 0, `seed ${seed} step ${i} ${s.phase}: no action at pollAt`);
        assert.notEqual(after, s);
        checked++;
      }
      // Move on with a random event (not a stop, to keep the walk long).
      now += prng.int(3) === 0 ? prng.int(100_000) : prng.int(2_000);
      let ev = randomEvent(prng, s, now);
      if (ev.kind === "stop") ev = { kind: "tick", now };
      s = m.step(s, ev)[0];
    }
    assert.ok(checked > 50, `seed ${seed}: only ${checked} deadlines checked`);
  }
});
