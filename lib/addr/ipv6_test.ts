import { test } from "node:test";
import assert from "node:assert/strict";
import ipaddr from "ipaddr.js";
import { formatIpv6, ipv6Equals, ipv6Key, parseIpv6 } from "./ipv6.ts";
import { Prng } from "../testing/prng.ts";
import { mutate, randomAddressText } from "./_fuzz.ts";

/** Parse or fail the test; returns the 16 bytes. */
function must(text: string, embeddedIpv4 = false): Uint8Array {
  const r = parseIpv6(text, { embeddedIpv4 });
  if (!r.ok) assert.fail(`${JSON.stringify(text)} refused: ${r.reason}`);
  assert.equal(r.value.length, 16);
  return r.value;
}

/** Canonical text of an accepted address. */
function canon(text: string, embeddedIpv4 = false): string {
  return formatIpv6(must(text, embeddedIpv4));
}

test("addr: parseIpv6 accepts the RFC 4291 section 2.2 hex forms", () => {
  assert.deepEqual(
    [...must("ABCD:EF01:2345:6789:ABCD:EF01:2345:6789")],
    [
      0xab,
      0xcd,
      0xef,
      0x01,
      0x23,
      0x45,
      0x67,
      0x89,
      0xab,
      0xcd,
      0xef,
      0x01,
      0x23,
      0x45,
      0x67,
      0x89,
    ],
  );
  assert.deepEqual(
    [...must("2001:DB8:0:0:8:800:200C:417A")],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0c, 0x41, 0x7a],
  );
  assert.equal(canon("2001:DB8:0:0:8:800:200C:417A"), "2001:db8::8:800:200c:417a");
  assert.equal(canon("2001:DB8::8:800:200C:417A"), "2001:db8::8:800:200c:417a");
  assert.equal(canon("FF01:0:0:0:0:0:0:101"), "ff01::101");
  assert.equal(canon("FF01::101"), "ff01::101");
  assert.equal(canon("0:0:0:0:0:0:0:1"), "::1");
  assert.equal(canon("::1"), "::1");
  assert.equal(canon("0:0:0:0:0:0:0:0"), "::");
  assert.equal(canon("::"), "::");
  assert.deepEqual([...must("::")], new Array(16).fill(0));
  assert.equal(canon("fe80::"), "fe80::");
  assert.equal(canon("::1:2:3:4:5:6:7"), "0:1:2:3:4:5:6:7");
  assert.equal(canon("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");
});

test("addr: parseIpv6 accepts the RFC 4291 mixed IPv4 forms only with embeddedIpv4", () => {
  const cases: [string, string][] = [
    ["0:0:0:0:0:0:13.1.68.3", "::d01:4403"],
    ["0:0:0:0:0:FFFF:129.144.52.38", "::ffff:8190:3426"],
    ["::13.1.68.3", "::d01:4403"],
    ["::FFFF:129.144.52.38", "::ffff:8190:3426"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["1:2:3:4:5:6:255.255.255.255", "1:2:3:4:5:6:ffff:ffff"],
  ];
  for (const [text, want] of cases) {
    assert.equal(canon(text, true), want, text);
    assert.deepEqual(parseIpv6(text), { ok: false, reason: "embedded-ipv4" }, text);
  }
  const bad: [string, string][] = [
    ["::ffff:010.0.0.1", "bad-ipv4-tail"],
    ["::ffff:10.1", "bad-ipv4-tail"],
    ["::ffff:1.2.3.4.", "bad-ipv4-tail"],
    ["::ffff:256.0.0.1", "bad-ipv4-tail"],
    ["1.2.3.4::", "invalid-char"],
    ["::1.2.3.4:5", "invalid-char"],
    ["192.0.2.1", "invalid-char"],
    ["1:2:3:4:5:6:7:1.2.3.4", "group-count"],
    ["1:2:3:4:5:6:7:8:1.2.3.4", "group-count"],
  ];
  for (const [text, reason] of bad) {
    assert.deepEqual(parseIpv6(text, { embeddedIpv4: true }), { ok: false, reason }, text);
  }
});

test("addr: parseIpv6 repairs the TSP example form with :: beside eight groups", () => {
  const want = "2001:db8:c18:ffff::1";
  assert.equal(canon("2001:db8:c18:ffff::0000:0000:0000:0001"), want);
  assert.equal(canon("\n        2001:db8:c18:ffff::0000:0000:0000:0001\n      "), want);
  assert.equal(canon("2001:db8:c18:ffff:0000:0000:0000:0001"), want);
  // The same repair wherever the empty `::` sits.
  assert.equal(canon("::2001:db8:c18:ffff:0:0:0:1"), want);
  assert.equal(canon("2001:db8:c18:ffff:0:0:0:1::"), want);
  assert.equal(canon("2001::db8:c18:ffff:0:0:0:1"), want);
  // ...and with a strict IPv4 tail when that is enabled.
  assert.equal(canon("1:2:3::4:5:6:192.0.2.1", true), "1:2:3:4:5:6:c000:201");
  // Nine explicit groups are still wrong.
  assert.deepEqual(parseIpv6("2001:db8:c18:ffff::0:0000:0000:0000:0001"), {
    ok: false,
    reason: "group-count",
  });
});

test("addr: parseIpv6 refuses malformed text with a reason", () => {
  const cases: [string, string][] = [
    ["", "empty"],
    ["  \r\n", "empty"],
    ["fe80::1%eth0", "zone-id"],
    ["fe80::1%1", "zone-id"],
    ["::ffff:1.2.3.4", "embedded-ipv4"],
    ["1::2::3", "multiple-double-colon"],
    [":::", "multiple-double-colon"],
    ["1:::2", "multiple-double-colon"],
    ["1:2:3:4:5:6:7", "group-count"],
    ["1:2:3:4:5:6:7:8:9", "group-count"],
    ["1", "group-count"],
    [":1:2:3:4:5:6:7:8", "empty-group"],
    ["1:2:3:4:5:6:7:8:", "empty-group"],
    [":1::", "empty-group"],
    ["::1:", "empty-group"],
    ["1:2:3::4:", "empty-group"],
    ["12345::", "group-too-long"],
    ["2001:0db8:00000:0:0:0:0:1", "group-too-long"],
    ["g::", "invalid-char"],
    ["2001:db8::1 ", "ok"],
    ["2001:db8:: 1", "invalid-char"],
    ["2001:db8::\u00a01", "invalid-char"],
    ["[2001:db8::1]", "invalid-char"],
    ["2001:db8::1/64", "invalid-char"],
    ["0x2001:db8::1", "invalid-char"],
    ["-1::", "invalid-char"],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "too-long"],
  ];
  for (const [text, reason] of cases) {
    const r = parseIpv6(text);
    if (reason === "ok") assert.ok(r.ok, text);
    else assert.deepEqual(r, { ok: false, reason }, JSON.stringify(text));
  }
  for (const v of [undefined, null, 6, {}]) {
    assert.deepEqual(parseIpv6(v as unknown as string), { ok: false, reason: "not-a-string" });
  }
});

test("addr: formatIpv6 follows the RFC 5952 examples", () => {
  // Section 2.1: eight spellings of one address, one canonical form (section 4).
  for (
    const text of [
      "2001:db8:0:0:1:0:0:1",
      "2001:0db8:0:0:1:0:0:1",
      "2001:db8::1:0:0:1",
      "2001:db8::0:1:0:0:1",
      "2001:0db8::1:0:0:1",
      "2001:db8:0:0:1::1",
      "2001:db8:0000:0:1::1",
      "2001:DB8:0:0:1::1",
    ]
  ) {
    assert.equal(canon(text), "2001:db8::1:0:0:1", text);
  }
  const cases: [string, string][] = [
    ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"], // 2.2
    ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"],
    ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:01", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"],
    ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"],
    ["2001:db8:aaaa:bbbb:cccc:dddd::1", "2001:db8:aaaa:bbbb:cccc:dddd:0:1"], // 2.2 + 4.2.2
    ["2001:db8:0:0:aaaa::1", "2001:db8::aaaa:0:0:1"], // 2.3, first run on a tie (4.2.3)
    ["2001:db8::aaaa:0:0:1", "2001:db8::aaaa:0:0:1"],
    ["2001:0db8::0001", "2001:db8::1"], // 4.1
    ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"], // 4.2.1
    ["2001:db8::0:1", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // 4.2.2
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // 4.2.3
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:DB8::1", "2001:db8::1"], // 4.3
    ["0:0:0:0:0:ffff:c000:201", "::ffff:c000:201"], // plain hex, not the 5 mixed form
    ["1:0:0:0:0:0:0:0", "1::"],
    ["0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1"],
  ];
  for (const [text, want] of cases) assert.equal(canon(text), want, text);
});

test("addr: formatIpv6, ipv6Equals and ipv6Key read at an offset in subarray views", () => {
  const backing = new Uint8Array(40).fill(0xee);
  const view = backing.subarray(3, 37); // byteOffset 3, length 34
  const addr = must("2001:db8::8:800:200c:417a");
  view.set(addr, 5); // backing[8..24]
  assert.equal(formatIpv6(view, 5), "2001:db8::8:800:200c:417a");
  assert.equal(formatIpv6(backing, 8), "2001:db8::8:800:200c:417a");
  assert.ok(ipv6Equals(view, addr, 5, 0));
  assert.ok(ipv6Equals(addr, backing, 0, 8));
  assert.ok(!ipv6Equals(view, addr, 4, 0));
  assert.equal(ipv6Key(view, 5), ipv6Key(addr));
  assert.equal(ipv6Key(backing.subarray(8, 24)), ipv6Key(addr, 0));
  assert.throws(() => formatIpv6(view, 19), RangeError);
  assert.throws(() => formatIpv6(view.subarray(0, 15)), RangeError);
  assert.throws(() => ipv6Equals(view, addr, 0, 1), RangeError);
  assert.throws(() => ipv6Key(view, -1), RangeError);
  assert.equal(formatIpv6(backing, 24), "eeee:eeee:eeee:eeee:eeee:eeee:eeee:eeee");
});

test("addr: ipv6Key is eight code units and tells addresses apart", () => {
  const a = must("2001:db8::1");
  const b = must("2001:db8::100");
  const c = must("2001:db8::1:0");
  assert.equal(ipv6Key(a).length, 8);
  assert.notEqual(ipv6Key(a), ipv6Key(b));
  assert.notEqual(ipv6Key(a), ipv6Key(c));
  assert.equal(ipv6Key(a), ipv6Key(must("2001:0DB8:0:0:0:0:0:0001")));
  // Surrogate-range groups still give distinct, stable keys.
  const m = new Map<string, number>();
  m.set(ipv6Key(must("d800::dfff")), 1);
  m.set(ipv6Key(must("dfff::d800")), 2);
  assert.equal(m.get(ipv6Key(must("d800:0:0:0:0:0:0:dfff"))), 1);
  assert.equal(m.get(ipv6Key(must("dfff::d800"))), 2);
  assert.equal(m.size, 2);
});

/** Random 16 bytes, with runs of zero groups often enough to exercise `::` placement. */
function randomAddress(rng: Prng): Uint8Array {
  const b = rng.bytes(16);
  const zeroBias = rng.int(4);
  for (let g = 0; g < 8; g++) {
    if (rng.int(4) < zeroBias) {
      b[2 * g] = 0;
      b[2 * g + 1] = 0;
    } else if (rng.int(4) === 0) {
      b[2 * g] = 0; // short group, e.g. `1f`
    }
  }
  return b;
}

/** Eight groups in full, with random case and random leading zeros: a non-canonical spelling. */
function verboseText(rng: Prng, b: Uint8Array): string {
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) {
    let h = ((b[2 * g] << 8) | b[2 * g + 1]).toString(16);
    if (rng.int(2) === 0) h = h.padStart(4, "0");
    groups.push(rng.int(2) === 0 ? h.toUpperCase() : h);
  }
  return groups.join(":");
}

test("addr: IPv6 format and parse round trip for seeded random addresses", () => {
  const rng = new Prng(0x6f6);
  for (let i = 0; i < 20_000; i++) {
    const b = randomAddress(rng);
    const text = formatIpv6(b);
    assert.equal(text, ipaddr.IPv6.parse(text).toRFC5952String(), text);
    const back = must(text);
    assert.ok(ipv6Equals(back, b), text);
    assert.equal(ipv6Key(back), ipv6Key(b));
    assert.equal(formatIpv6(must(verboseText(rng, b))), text);
    // The TSP repair form: all eight groups plus a `::` somewhere.
    const full = verboseText(rng, b).split(":");
    full.splice(rng.int(9), 0, "");
    const repaired = full.join(":").replace(/^:/, "::").replace(/:$/, "::");
    assert.equal(formatIpv6(must(repaired)), text, repaired);
  }
});

test("addr: parseIpv6 never throws and agrees with ipaddr.js on 200k random inputs", () => {
  const rng = new Prng(0xadd6);
  let accepted = 0;
  const check = (text: string, embeddedIpv4: boolean) => {
    const r = parseIpv6(text, { embeddedIpv4 });
    const t = text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
    if (r.ok) {
      accepted++;
      assert.equal(r.value.length, 16);
      assert.ok(ipv6Equals(must(formatIpv6(r.value)), r.value), text);
      assert.ok(!t.includes("%"), text);
      if (!embeddedIpv4) assert.ok(!t.includes("."), text);
    }
    // Differential check on plain hex-colon text: ipaddr.js must agree, except that we also
    // accept the TSP repair form (a `::` beside eight explicit groups), which it refuses.
    if (/^[0-9a-fA-F:]*$/.test(t) && t.length <= 45) {
      let theirs: number[] | undefined;
      try {
        theirs = ipaddr.IPv6.parse(t).toByteArray();
      } catch {
        theirs = undefined;
      }
      if (theirs !== undefined) {
        assert.ok(r.ok, `${JSON.stringify(text)}: ipaddr.js accepts, we refuse`);
        assert.deepEqual([...r.value], theirs, text);
      } else if (r.ok) {
        const explicit = t.split(":").filter((g) => g !== "").length;
        assert.ok(t.includes("::") && explicit === 8, `${JSON.stringify(text)}: only we accept`);
      }
    }
  };
  for (let i = 0; i < 100_000; i++) check(randomAddressText(rng, 48), (i & 1) === 1);
  for (let i = 0; i < 100_000; i++) {
    const b = randomAddress(rng);
    const base = rng.int(4) === 0 ? `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}` : formatIpv6(b);
    check(mutate(rng, base), (i & 1) === 1);
  }
  assert.ok(accepted > 1000, `only ${accepted} accepted: the mutations are too destructive`);
});
