import { test } from "node:test";
import assert from "node:assert/strict";
import {
  allocationInfo,
  allocationRequest,
  bindingPush,
  DEFAULT_LIFETIME_MINUTES,
  firstAddress,
  isPushMessage,
  leaseDeletePush,
  queryInfo,
  queryRequest,
  readAllocationInfo,
  readPush,
  readQueryInfo,
  readQueryKey,
  readRequestAddresses,
  releaseRequest,
  renewalRequest,
} from "./dstm_profile.ts";
import { encodeTunnel } from "./encode_tunnel.ts";

const V6 = "2001:db8:100::10";
const V4 = "198.51.100.7";

test("dstm profile: requests carry the client addresses the brief asks for", () => {
  assert.deepEqual(readRequestAddresses(allocationRequest(V6)), { clientIpv6: V6 });
  assert.deepEqual(readRequestAddresses(renewalRequest(V6, V4)), { clientIpv6: V6, ipv4: V4 });
  assert.deepEqual(readRequestAddresses(releaseRequest(V6, V4)), { clientIpv6: V6, ipv4: V4 });
  assert.deepEqual(readRequestAddresses(queryRequest(V4)), {});
  assert.equal(renewalRequest(V6, V4).client?.addresses[1].length, 32);
  const gogoc = allocationRequest(V6, { proxy: "no", keepalive: { interval: 30, addresses: [] } });
  assert.equal(gogoc.proxy, "no");
  assert.equal(gogoc.client?.keepalive?.interval, 30);
});

test("dstm profile: allocation info, TEP in <server>, lease in <client>", () => {
  const info = allocationInfo({
    ipv4: V4,
    tepIpv4: "192.0.2.1",
    tepIpv6: "2001:db8:ffff::1",
    lifetime: 60,
    clientIpv6: V6,
    dnsServers: [{ type: "ipv6", value: "2001:db8::53" }],
    keepalive: { interval: 30, addresses: [{ type: "ipv4", value: "192.0.2.1" }] },
  });
  assert.deepEqual(readAllocationInfo(info), {
    ipv4: V4,
    tepIpv6: "2001:db8:ffff::1",
    tepIpv4: "192.0.2.1",
    lifetime: 60,
  });
  assert.match(
    encodeTunnel(info),
    /<client><address type="ipv4" length="32">198.51.100.7<\/address><address type="ipv6">2001:db8:100::10<\/address><keepalive interval="30">.*<\/keepalive><dns_server>/,
  );
  assert.equal(readAllocationInfo({ action: "info", type: "v4v6" }), undefined);
  assert.equal(readAllocationInfo(allocationRequest(V6)), undefined);
});

test("dstm profile: query and its answer, <server> = DSTM client, <client> = TEP", () => {
  const q = queryRequest(V4, { ipv4: "192.0.2.2", ipv6: "2001:db8:ffff::2" });
  assert.equal(readQueryKey(q), V4);
  assert.equal(readQueryKey(allocationRequest(V6)), undefined);
  assert.equal(queryRequest(V4).client, undefined, "<client> is optional (§3.2 item 3)");
  const a = queryInfo({ ipv4: V4, clientIpv6: V6, lifetime: 0 });
  assert.deepEqual(readQueryInfo(a), { ipv4: V4, clientIpv6: V6, lifetime: 0 });
  assert.equal(a.client, undefined);
  assert.equal(readQueryInfo(q), undefined);
  assert.equal(firstAddress(undefined, "ipv4"), undefined);
});

test("dstm profile: pushes are create/delete with the binding in <client>", () => {
  const add = bindingPush("add", { ipv4: V4, clientIpv6: V6 });
  assert.equal(add.lifetime, DEFAULT_LIFETIME_MINUTES);
  assert.deepEqual(readPush(add), { kind: "add", ipv4: V4, clientIpv6: V6, lifetime: 1440 });
  assert.deepEqual(readPush(bindingPush("remove", { ipv4: V4, clientIpv6: V6 })), {
    kind: "remove",
    ipv4: V4,
    clientIpv6: V6,
  });
  const del = leaseDeletePush({ ipv4: V4, clientIpv6: V6 }, {
    ipv4: "192.0.2.1",
    ipv6: "2001:db8:ffff::1",
  });
  assert.deepEqual(readPush(del), { kind: "remove", ipv4: V4, clientIpv6: V6 });
  assert.equal(leaseDeletePush({ ipv4: V4, clientIpv6: V6 }).server, undefined);
  assert.ok(isPushMessage(add) && isPushMessage(del));
  assert.ok(!isPushMessage(queryInfo({ ipv4: V4, clientIpv6: V6, lifetime: 1 })));
  assert.equal(readPush({ action: "delete", type: "v4v6" }), undefined);
  assert.equal(readPush({ action: "accept" }), undefined);
});
