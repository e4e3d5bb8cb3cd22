import process from "node:process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { openVnetTun, VNET } from "./tun_vnet.ts";

const root = process.getuid?.() === 0;

test("tun vnet: constants from linux/if_tun.h and linux/virtio_net.h", () => {
  assert.equal(VNET.IFF_VNET_HDR, 0x4000);
  assert.equal(VNET.HDR_LEN, 10);
  assert.equal(VNET.GSO_TCPV4, 1);
  assert.throws(() => openVnetTun({ name: "a-very-long-tun-name" }), TypeError);
});

test("tun vnet: opens a TUN with the virtio header", { skip: root ? false : "needs root" }, () => {
  const t = openVnetTun({ name: "dstmvt%d" });
  try {
    assert.equal(t.vnetHeader, true);
    assert.match(t.name, /^dstmvt\d+$/);
    assert.ok(t.fd >= 0);
  } finally {
    t.close();
    t.close();
  }
});
