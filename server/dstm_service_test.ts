import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Ipv4Pool, parseCidr4 } from "../lib/addr/mod.ts";
import { LeaseAllocator, LeaseStore } from "../lib/lease/mod.ts";
import { nullLogger } from "../lib/log/logger.ts";
import {
  allocationRequest,
  readPush,
  type ServerReply,
  type TunnelMessage,
} from "../lib/tsp/mod.ts";
import {
  DstmService,
  type RequestAction,
  type ServiceSettings,
  type SessionHandle,
} from "./dstm_service.ts";
import { Counters } from "./counters.ts";

class FakeSession implements SessionHandle {
  readonly pushes: TunnelMessage[] = [];
  closedWith: string | undefined;
  room = 32;
  constructor(
    readonly peerAddress = "2001:db8:100::1",
    readonly transport: "tcp" | "udp" = "tcp",
    readonly peerPort = 4000,
  ) {}
  pushCapacity(): number {
    return this.closedWith === undefined ? this.room : 0;
  }
  push(m: TunnelMessage): boolean {
    if (this.closedWith !== undefined) return false;
    this.pushes.push(m);
    return true;
  }
  close(reason: string): void {
    this.closedWith ??= reason;
  }
}

const TEPS = [
  { name: "tep1", ipv6: "2001:db8:ffff::1", ipv4: "192.0.2.1" },
  { name: "tep2", ipv6: "2001:db8:ffff::2", ipv4: "192.0.2.2" },
];

function setup(extra: Partial<ServiceSettings> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-svc-"));
  const cidr = parseCidr4("198.51.100.0/24");
  if (!cidr.ok) throw new Error("cidr");
  const allocator = new LeaseAllocator({
    pool: new Ipv4Pool(cidr.value),
    quarantineMinMs: 0,
    maxPerIpv6: Infinity,
  });
  const opened = LeaseStore.open({ dir, allocator, sync: false });
  if (!opened.ok) throw new Error(opened.detail);
  let now = 1_700_000_000_000;
  const counters = new Counters();
  const service = new DstmService({
    store: opened.store,
    settings: {
      teps: TEPS,
      users: new Map([
        ["tep1", { user: "tep1", password: "x", role: "tep" }],
        ["tep2", { user: "tep2", password: "x", role: "tep" }],
      ]),
      lifetimeMs: 3_600_000,
      tepBindingMaxMinutes: 15,
      limits: { perIpv6: 1, perIdentity: 100 },
      keepaliveSeconds: 0,
      trustRequestAddress: false,
      tepPushQueue: 16,
      ...extra,
    },
    log: nullLogger,
    counters,
    clock: () => now,
  });
  let id = 0;
  const create = (h: SessionHandle, ipv6: string): Promise<ServerReply> => {
    const req: RequestAction = {
      kind: "request",
      id: ++id,
      command: allocationRequest(ipv6),
      identity: "anonymous",
      mechanism: "ANONYMOUS",
      version: "1.0",
      repaired: false,
      acceptStep: false,
    };
    return Promise.resolve(service.request(h, req));
  };
  return {
    service,
    counters,
    create,
    advance: (ms: number) => now += ms,
    async done() {
      await opened.store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

test("service: a replaced TEP session gets nothing more; the new one gets the full resync", async () => {
  const t = setup();
  try {
    const client = new FakeSession("::1");
    t.service.sessionAuthenticated(client, "anonymous", "ANONYMOUS");
    for (let i = 0; i < 5; i++) {
      assert.equal((await t.create(client, `2001:db8:200::${i + 1}`)).code, 200);
    }
    const old = new FakeSession("2001:db8:ffff::1");
    old.room = 2; // slow: two pushes in flight at a time
    assert.equal(t.service.sessionAuthenticated(old, "tep1", "DIGEST-MD5"), "tep");
    const fresh = new FakeSession("2001:db8:ffff::1");
    assert.equal(t.service.sessionAuthenticated(fresh, "tep1", "DIGEST-MD5"), "tep");
    assert.equal(old.closedWith, "replaced by a new session of the same TEP");
    await settle();
    assert.equal(old.pushes.length, 0, "nothing reaches the replaced session");
    const mine = t.service.leases().leases.filter((l) => l.tep === "tep1").length;
    assert.equal(mine, 3, "with no TEP live, new leases alternate (least loaded)");
    assert.equal(fresh.pushes.length, mine);
    const view = t.service.teps().find((x) => x.name === "tep1")!;
    assert.equal(view.queued, 0, "no stale in-flight count");
    assert.equal(view.state, "up");
  } finally {
    await t.done();
  }
});

test("service: a TEP that cannot take its pushes is closed (overflow), not silently skipped", async () => {
  const t = setup({ tepPushQueue: 16 });
  try {
    const tep = new FakeSession("2001:db8:ffff::1");
    tep.room = 0;
    t.service.sessionAuthenticated(tep, "tep1", "DIGEST-MD5");
    const client = new FakeSession("::1");
    t.service.sessionAuthenticated(client, "anonymous", "ANONYMOUS");
    for (let i = 0; i < 17; i++) await t.create(client, `2001:db8:300::${i + 1}`);
    assert.equal(tep.closedWith, "push queue overflow");
    assert.equal(t.counters.get("push_overflows_total"), 1);
  } finally {
    await t.done();
  }
});

test("service: expiry sends a binding remove to the TEP and a lease delete to the open client session", async () => {
  const t = setup();
  try {
    const tep = new FakeSession("2001:db8:ffff::1");
    t.service.sessionAuthenticated(tep, "tep1", "DIGEST-MD5");
    const client = new FakeSession("::1");
    t.service.sessionAuthenticated(client, "anonymous", "ANONYMOUS");
    assert.equal((await t.create(client, "2001:db8:400::1")).code, 200);
    await settle();
    assert.equal(readPush(tep.pushes[0])?.kind, "add");
    t.advance(3_600_001);
    t.service.expire();
    await settle();
    assert.equal(readPush(tep.pushes[1])?.kind, "remove");
    assert.equal(client.pushes.length, 1);
    assert.equal(client.pushes[0].action, "delete");
    assert.equal(t.counters.get("lease_events_total", ["expire"]), 1);
  } finally {
    await t.done();
  }
});

test("service: limits follow reloads; a user with role tep but DIGEST-less login is a client", async () => {
  const t = setup();
  try {
    const c = new FakeSession("::1");
    t.service.sessionAuthenticated(c, "anonymous", "ANONYMOUS");
    assert.equal(t.service.sessionAuthenticated(new FakeSession(), "tep1", "PLAIN"), "client");
    assert.equal((await t.create(c, "2001:db8:500::1")).code, 200);
    t.service.updateSettings({ ...t.service.settings, limits: { perIpv6: 1, perIdentity: 1 } });
    assert.equal((await t.create(c, "2001:db8:500::2")).code, 200, "anonymous: per address only");
  } finally {
    await t.done();
  }
});
