import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type ClientLeaseAction,
  type ClientLeaseEvent,
  type ClientLeaseState,
  createLeaseMachine,
  hookFor,
  hooksEnv,
  keepaliveIntervalMs,
  TepMonitor,
  TepSourceFilter,
} from "./mod.ts";
import { parseCidr4, parseCidr6, parseIpv4, parseIpv6 } from "../addr/mod.ts";

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

const TEP1 = { ipv6: v6("2001:db8:ffff::1"), ipv4: v4("192.0.2.1") };
const TEP2 = { ipv6: v6("2001:db8:ffff::2"), ipv4: v4("192.0.2.2") };

/** An IPv6 source address inside a fake packet buffer at offset 3. */
function src(text: string): Uint8Array {
  const b = new Uint8Array(19);
  b.set(v6(text), 3);
  return b;
}

test("client mod: a scripted shell survives the failure of its TEP", () => {
  // The shell's pieces, wired as dstm-client would wire them.
  const machine = createLeaseMachine({ random: () => 0 });
  const monitor = new TepMonitor({ random: () => 0.9999999 });
  const noPrefix = parseCidr6("2001:db8:eeee::/48");
  assert.ok(noPrefix.ok);
  const filter = new TepSourceFilter({ prefixes: [noPrefix.value] });
  const route = parseCidr4("0.0.0.0/0");
  assert.ok(route.ok);
  const hooks: Record<string, string>[] = [];
  const requests: number[] = [];
  let state = machine.initial;
  // Read through a function: assert.equal narrows `state` and TS does not see `feed` change it.
  const current = (): ClientLeaseState => state;

  const perform = (a: ClientLeaseAction, now: number): void => {
    const h = hookFor(a);
    if (h !== undefined) {
      hooks.push(hooksEnv({
        ...h,
        interfaceName: "dstm0",
        localIpv6: v6("2001:db8:100::10"),
        mtu: 1460,
        routes: [route.value],
        server: "2001:db8:1::1",
      }));
    }
    switch (a.kind) {
      case "request":
        requests.push(a.id);
        break;
      case "configure":
      case "reconfigure-tep":
        filter.addTep(a.lease.tep.ipv6);
        filter.setLease(a.lease.ipv4);
        monitor.start(now, keepaliveIntervalMs(a.lease.keepaliveSeconds));
        break;
      case "deconfigure":
        filter.setLease(undefined);
        monitor.stop();
        break;
      default:
        break;
    }
  };
  const feed = (ev: ClientLeaseEvent): void => {
    const [next, actions] = machine.step(state, ev);
    state = next;
    for (const a of actions) perform(a, ev.now);
  };

  feed({ kind: "start", now: 0 });
  feed({
    kind: "granted",
    now: 100,
    id: requests.at(-1),
    lease: { ipv4: v4("198.51.100.7"), lifetimeMinutes: 1440, tep: TEP1, keepaliveSeconds: 10 },
  });
  assert.equal(current().phase, "bound");
  assert.equal(filter.accepts(src("2001:db8:ffff::1"), 3), true);
  assert.equal(filter.accepts(src("2001:db8:ffff::2"), 3), false);

  // TEP1 goes silent: three probes unanswered.
  let now = 100;
  let failedAt = -1;
  for (let i = 0; i < 10 && failedAt < 0; i++) {
    now = monitor.pollAt();
    for (const a of monitor.onTick(now)) {
      if (a.kind === "tep-failed") {
        failedAt = now;
        feed({ kind: "tep-failed", now, reason: a.reason });
      }
    }
  }
  assert.equal(failedAt, 100 + 4 * 10_000); // probes at 10, 20, 30 s; the third miss at 40 s
  assert.equal(current().phase, "renewing");
  // The server moves the lease to TEP2.
  feed({
    kind: "granted",
    now: failedAt + 50,
    id: requests.at(-1),
    lease: { ipv4: v4("198.51.100.7"), lifetimeMinutes: 1440, tep: TEP2, keepaliveSeconds: 10 },
  });
  assert.equal(current().phase, "bound");
  assert.deepEqual(hooks.map((h) => h.DSTM_EVENT), ["up", "tep-change"]);
  assert.equal(hooks[1].DSTM_REMOTE_IPV6, "2001:db8:ffff::2");
  assert.equal(hooks[1].DSTM_PREVIOUS_REMOTE_IPV6, "2001:db8:ffff::1");
  assert.equal(hooks[1].DSTM_IPV4, "198.51.100.7");
  assert.equal(filter.accepts(src("2001:db8:ffff::2"), 3), true);
  assert.equal(monitor.status().failed, false);
  assert.equal(monitor.pollAt() > failedAt + 50, true);

  // SIGTERM: release, deconfigure, down hook.
  feed({ kind: "stop", now: failedAt + 1_000 });
  assert.equal(current().phase, "released");
  assert.deepEqual(hooks.map((h) => h.DSTM_EVENT), ["up", "tep-change", "down"]);
  assert.equal(hooks[2].DSTM_REASON, "stopped");
  assert.equal(monitor.pollAt(), Infinity);
  assert.equal(current().counters.protocolErrors, 0);
});
