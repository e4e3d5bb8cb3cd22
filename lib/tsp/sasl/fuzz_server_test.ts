import assert from "node:assert/strict";
import { test } from "node:test";
import { Prng } from "../../testing/prng.ts";
import { bytesFromBin, utf8ToBin } from "./_binary.ts";
import { anonymousServer } from "./anonymous.ts";
import { digestMd5Server } from "./digest_md5_server.ts";
import type { SaslServer, SaslServerStep } from "./mechanism.ts";
import { plainServer } from "./plain.ts";
import { assertServerStep, fuzzLine, GOGOC, mutateBytes } from "./_testing.ts";

/** Lines fed to each server mechanism. */
const LINES = 100_000;

const lookup = (u: string) => (u === "user1" ? "secret" : u === "\u00e9" ? "\u00e9" : undefined);

/** Feed `LINES` lines, each to a fresh started server; check every step and tally the kinds. */
function run(make: () => SaslServer, next: (prng: Prng) => Uint8Array, seed: number) {
  const prng = new Prng(seed);
  const kinds: Record<string, number> = {};
  const tally = (s: SaslServerStep) => {
    assertServerStep(s);
    kinds[s.kind] = (kinds[s.kind] ?? 0) + 1;
  };
  let fed = 0;
  while (fed < LINES) {
    const server = make();
    server.start();
    const l = next(prng);
    let step: SaslServerStep;
    try {
      step = server.step(l);
    } catch (e) {
      assert.fail(`threw on ${JSON.stringify(Array.from(l))}: ${e}`);
    }
    tally(step);
    fed++;
    if (prng.int(16) === 0) { // a second line after the decision
      const again = server.step(next(prng));
      assert.equal(again.kind, "failure");
      fed++;
    }
  }
  assert.ok(fed >= LINES);
  return kinds;
}

test("sasl fuzz: 100k random and mutated lines into the DIGEST-MD5 server", () => {
  const valid = [
    GOGOC.clientResponse,
    GOGOC.clientResponse.replace('username="user1"', 'username="us\\er1"'),
    GOGOC.clientResponse + ',authzid="user1"',
    " qop = auth ," + GOGOC.clientResponse.replace(",qop=auth", ""),
  ];
  const kinds = run(
    () => digestMd5Server({ realm: GOGOC.realm, lookup, nonce: () => GOGOC.nonce }),
    (prng) => fuzzLine(prng, valid),
    0xd16e57,
  );
  assert.ok((kinds.success ?? 0) > 100, JSON.stringify(kinds));
  assert.ok((kinds.failure ?? 0) > 50_000, JSON.stringify(kinds));
  assert.equal(kinds.challenge, undefined);
});

test("sasl fuzz: 100k random and mutated lines into the PLAIN server", () => {
  const valid = [
    "\0user1\0secret",
    "user1\0secret",
    "user1\0user1\0secret",
    utf8ToBin("\u00e9\0\u00e9"),
  ];
  const kinds = run(
    () => plainServer(lookup),
    (prng) => {
      const seed = bytesFromBin(valid[prng.int(valid.length)]);
      switch (prng.int(4)) {
        case 0:
          return prng.bytes(prng.int(60));
        case 1:
          return prng.int(10) === 0 ? seed : mutateBytes(prng, seed);
        case 2: { // random fields joined by NUL
          const fields = Array.from({ length: prng.int(5) }, () => prng.bytes(prng.int(6)));
          return bytesFromBin(fields.map((f) => String.fromCharCode(...f)).join("\0"));
        }
        default:
          return mutateBytes(prng, mutateBytes(prng, seed));
      }
    },
    0x91a1,
  );
  assert.ok((kinds.success ?? 0) > 100, JSON.stringify(kinds));
  assert.ok((kinds.failure ?? 0) > 50_000, JSON.stringify(kinds));
});

test("sasl fuzz: 100k random lines into the ANONYMOUS server", () => {
  const kinds = run(anonymousServer, (prng) => prng.bytes(prng.int(40)), 0xa707);
  assert.deepEqual(Object.keys(kinds), ["failure"]);
});
