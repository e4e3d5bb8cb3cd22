import { test } from "node:test";
import assert from "node:assert/strict";
import { openTun, TUN } from "./tun.ts";

test("tun: constants from linux/if_tun.h", () => {
  assert.equal(TUN.TUNSETIFF, 0x400454ca);
  assert.equal(TUN.IFF_TUN | TUN.IFF_NO_PI, 0x1001);
});

test("tun: bad interface names are programmer errors", () => {
  assert.throws(() => openTun({ name: "a-very-long-tun-name" }), TypeError);
  assert.throws(() => openTun({ name: "tun 0" }), TypeError);
});
