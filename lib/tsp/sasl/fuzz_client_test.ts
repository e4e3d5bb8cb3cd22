import assert from "node:assert/strict";
import { test } from "node:test";
import { Prng } from "../../testing/prng.ts";
import { anonymousClient } from "./anonymous.ts";
import { digestMd5Client } from "./digest_md5_client.ts";
import type { SaslClient, SaslClientStep } from "./mechanism.ts";
import { plainClient } from "./plain.ts";
import { assertClientStep, b64Line, fuzzLine, GOGOC } from "./_testing.ts";

/** Lines fed to each client mechanism. */
const LINES = 100_000;

function feed(c: SaslClient, l: Uint8Array, kinds: Record<string, number>): SaslClientStep {
  let step: SaslClientStep;
  try {
    step = c.step(l);
  } catch (e) {
    assert.fail(`threw on ${JSON.stringify(Array.from(l))}: ${e}`);
  }
  assertClientStep(step);
  kinds[step.kind] = (kinds[step.kind] ?? 0) + 1;
  return step;
}

test("sasl fuzz: 100k random and mutated challenge and rspauth lines into the DIGEST-MD5 client", () => {
  const prng = new Prng(0xc11e47);
  const challenges = [
    GOGOC.challenge,
    'realm="a",realm="b",nonce="x\\"y",qop="auth-int, auth",algorithm=md5-sess,charset=utf-8',
    ' nonce = "n" , maxbuf=4096 , stale=true ',
  ];
  const rspauths = ["rspauth=" + GOGOC.rspauth, 'rspauth="' + GOGOC.rspauth + '"'];
  const goodChallenge = b64Line(GOGOC.challenge);
  const kinds: Record<string, number> = {};
  const rspKinds: Record<string, number> = {};
  let fed = 0;
  while (fed < LINES) {
    const c = digestMd5Client({
      user: GOGOC.user,
      pass: GOGOC.pass,
      digestUriHost: GOGOC.host,
      cnonce: () => GOGOC.cnonce,
    });
    c.start();
    // Three exchanges in four fuzz the challenge; the others get the real one and fuzz rspauth.
    if (prng.int(4) !== 0) {
      feed(c, fuzzLine(prng, challenges), kinds);
      fed++;
    } else {
      assert.equal(c.step(goodChallenge).kind, "send");
      const step = feed(c, fuzzLine(prng, rspauths), rspKinds);
      fed++;
      assert.equal(c.successAllowed, step.kind === "verified");
    }
    if (prng.int(16) === 0) {
      feed(c, fuzzLine(prng, rspauths), {});
      fed++;
    }
  }
  assert.ok((kinds.send ?? 0) > 1000, JSON.stringify(kinds));
  assert.ok((kinds.failure ?? 0) > 1000, JSON.stringify(kinds));
  assert.ok((rspKinds.verified ?? 0) > 100, JSON.stringify(rspKinds));
  assert.ok((rspKinds.failure ?? 0) > 1000, JSON.stringify(rspKinds));
});

test("sasl fuzz: 100k random lines into the PLAIN and ANONYMOUS clients", () => {
  const prng = new Prng(0xc1a1);
  for (const make of [() => plainClient("user1", "secret"), anonymousClient]) {
    const kinds: Record<string, number> = {};
    for (let i = 0; i < LINES; i++) {
      const c = make();
      c.start();
      const shape = prng.int(50);
      const l = shape === 0
        ? new Uint8Array(0)
        : shape < 8
        ? fuzzLine(prng, [GOGOC.challenge])
        : prng.bytes(1 + prng.int(60));
      const step = feed(c, l, kinds);
      assert.equal(step.kind, l.length === 0 ? "await" : "failure");
    }
    assert.equal((kinds.await ?? 0) + (kinds.failure ?? 0), LINES);
  }
});
