import { test } from "node:test";
import assert from "node:assert/strict";
import { toHex } from "./testdata/hex.ts";
import { parseIpv6 } from "./ip_text.ts";
import { Raw6Socket, SOCKADDR_IN6_LEN, writeSockaddrIn6 } from "./raw6_socket.ts";

test("raw6 socket: sockaddr_in6 layout", () => {
  const out = new Uint8Array(SOCKADDR_IN6_LEN + 4).fill(0xee);
  writeSockaddrIn6(out.subarray(2, 2 + SOCKADDR_IN6_LEN), parseIpv6("2001:db8::1")!);
  assert.equal(
    toHex(out),
    "eeee" + "0a00" + "0000" + "00000000" + "20010db8000000000000000000000001" + "00000000" +
      "eeee",
  );
});

test("raw6 socket: a bad local address is a programmer error", () => {
  assert.throws(() => Raw6Socket.open({ protocol: 4, local: "10.0.0.1" }), TypeError);
  assert.throws(() => Raw6Socket.open({ protocol: 4, device: "bad name" }), TypeError);
});
