import { test } from "node:test";
import assert from "node:assert/strict";
import { type HookEnvInput, hookFor, hooksEnv } from "./hooks_env.ts";
import { type ClientLeaseAction, createLeaseMachine, type HeldLease } from "./lease_machine.ts";
import { type Cidr4, parseCidr4, parseIpv4, parseIpv6 } from "../addr/mod.ts";

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

function c4(text: string): Cidr4 {
  const r = parseCidr4(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

const T0 = Date.UTC(2025, 0, 1); // 2025-01-01T00:00:00Z
const TEP1 = { ipv6: v6("2001:db8:ffff::1"), ipv4: v4("192.0.2.1") };
const TEP2 = { ipv6: v6("2001:db8:ffff::2"), ipv4: v4("192.0.2.2") };

/** The held lease the machine builds for a 10-minute grant of 198.51.100.7 via TEP1 at T0. */
function heldLease(tep = TEP1): HeldLease {
  const m = createLeaseMachine({ random: () => 0 });
  let [s] = m.step(m.initial, { kind: "start", now: T0 - 100 });
  [s] = m.step(s, {
    kind: "granted",
    now: T0,
    lease: { ipv4: v4("198.51.100.7"), lifetimeMinutes: 10, tep },
  });
  if (s.phase !== "bound") assert.fail(s.phase);
  return s.lease;
}

function input(over: Partial<HookEnvInput> = {}): HookEnvInput {
  return {
    event: "up",
    interfaceName: "dstm0",
    lease: heldLease(),
    localIpv6: v6("2001:db8:100::10"),
    mtu: 1460,
    routes: [c4("0.0.0.0/0")],
    server: "[2001:db8:1::1]:3653",
    ...over,
  };
}

test("hooks env: golden up environment", () => {
  assert.deepEqual(hooksEnv(input()), {
    DSTM_EVENT: "up",
    DSTM_INTERFACE: "dstm0",
    DSTM_IPV4: "198.51.100.7",
    DSTM_PREFIXLEN: "32",
    DSTM_LOCAL_IPV6: "2001:db8:100::10",
    DSTM_REMOTE_IPV6: "2001:db8:ffff::1",
    DSTM_TEP_IPV4: "192.0.2.1",
    DSTM_MTU: "1460",
    DSTM_LEASE_EXPIRES: "2025-01-01T00:10:00.000Z",
    DSTM_LEASE_EXPIRES_EPOCH: "1735690200",
    DSTM_LIFETIME_MINUTES: "10",
    DSTM_ROUTES: "0.0.0.0/0",
    DSTM_SERVER: "[2001:db8:1::1]:3653",
  });
  // Keys in a fixed order (scripts that dump the environment diff cleanly).
  assert.deepEqual(Object.keys(hooksEnv(input())).slice(0, 3), [
    "DSTM_EVENT",
    "DSTM_INTERFACE",
    "DSTM_IPV4",
  ]);
});

test("hooks env: golden down and tep-change environments", () => {
  const down = hooksEnv(input({ event: "down", reason: "expired", routes: [] }));
  assert.equal(down.DSTM_EVENT, "down");
  assert.equal(down.DSTM_REASON, "expired");
  assert.equal(down.DSTM_ROUTES, "");
  assert.equal(down.DSTM_PREVIOUS_REMOTE_IPV6, undefined);

  const change = hooksEnv(
    input({
      event: "tep-change",
      lease: heldLease(TEP2),
      previousTep: TEP1,
      routes: [c4("203.0.113.0/24"), c4("192.0.2.0/25")],
    }),
  );
  assert.equal(change.DSTM_EVENT, "tep-change");
  assert.equal(change.DSTM_REMOTE_IPV6, "2001:db8:ffff::2");
  assert.equal(change.DSTM_TEP_IPV4, "192.0.2.2");
  assert.equal(change.DSTM_PREVIOUS_REMOTE_IPV6, "2001:db8:ffff::1");
  assert.equal(change.DSTM_PREVIOUS_TEP_IPV4, "192.0.2.1");
  assert.equal(change.DSTM_ROUTES, "203.0.113.0/24 192.0.2.0/25");
  assert.equal(change.DSTM_REASON, undefined);
  // A reason or previous TEP given with the wrong event is left out.
  const up = hooksEnv(input({ reason: "stopped", previousTep: TEP2 }));
  assert.equal(up.DSTM_REASON, undefined);
  assert.equal(up.DSTM_PREVIOUS_TEP_IPV4, undefined);
});

test("hooks env: expiry epoch rounds down to whole seconds", () => {
  const lease = { ...heldLease(), expiresAt: T0 + 1_999 };
  const env = hooksEnv(input({ lease }));
  assert.equal(env.DSTM_LEASE_EXPIRES, "2025-01-01T00:00:01.999Z");
  assert.equal(env.DSTM_LEASE_EXPIRES_EPOCH, "1735689601");
});

test("hooks env: input no hook could be given throws RangeError", () => {
  for (
    const bad of [
      { interfaceName: "" },
      { interfaceName: "dstm\u00000" },
      { server: "a\nb" },
      { mtu: 67 },
      { mtu: 65536 },
      { mtu: 1460.5 },
      { lease: { ...heldLease(), expiresAt: NaN } },
      { localIpv6: new Uint8Array(4) },
    ] as Partial<HookEnvInput>[]
  ) {
    assert.throws(() => hooksEnv(input(bad)), RangeError, JSON.stringify(Object.keys(bad)));
  }
});

test("hooks env: lease-machine actions map to hook events", () => {
  const lease = heldLease();
  const actions: ClientLeaseAction[] = [
    { kind: "configure", lease },
    { kind: "deconfigure", lease, reason: "refused" },
    { kind: "reconfigure-tep", lease, previousTep: TEP2 },
    { kind: "release", lease },
    { kind: "request", id: 1, reason: "initial", attempt: 0 },
  ];
  assert.deepEqual(actions.map((a) => hookFor(a)), [
    { event: "up", lease },
    { event: "down", lease, reason: "refused" },
    { event: "tep-change", lease, previousTep: TEP2 },
    undefined,
    undefined,
  ]);
  const h = hookFor(actions[1])!;
  assert.equal(hooksEnv(input(h)).DSTM_REASON, "refused");
});
