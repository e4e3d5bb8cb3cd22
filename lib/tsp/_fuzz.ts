/**
 * Test helpers (not part of the public API): seeded random and mutated inputs for the codec
 * "never throws" tests.
 *
 * @module
 */
import type { Prng } from "../testing/prng.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Bytes that matter to the TSP grammar, to make mutations hit interesting paths. */
const SPECIAL = enc.encode("<>/=\"' \r\n\t\0&;:.0123456789abcdefABCDEF-!?[]#x");

/** Random bytes of length 0..maxLen. */
export function randomBytes(rng: Prng, maxLen: number): Uint8Array {
  return rng.bytes(rng.int(maxLen + 1));
}

/** A random mutation of `seed`: byte flips, inserts, deletes, truncation, duplication. */
export function mutateBytes(rng: Prng, seed: Uint8Array): Uint8Array {
  let b = Array.from(seed);
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) {
    const pos = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(7)) {
      case 0:
        if (b.length) b[pos] = rng.int(256);
        break;
      case 1:
        b.splice(pos, 0, SPECIAL[rng.int(SPECIAL.length)]);
        break;
      case 2:
        b.splice(pos, 1 + rng.int(8));
        break;
      case 3:
        b = b.slice(0, pos);
        break;
      case 4: {
        const len = 1 + rng.int(16);
        b.splice(pos, 0, ...b.slice(pos, pos + len));
        break;
      }
      case 5:
        if (b.length) b[pos] = SPECIAL[rng.int(SPECIAL.length)];
        break;
      default:
        if (b.length) b[pos] ^= 1 << rng.int(8);
    }
  }
  return Uint8Array.from(b);
}

/** {@link mutateBytes} over text (decoded back with replacement characters). */
export function mutateText(rng: Prng, seed: string): string {
  return dec.decode(mutateBytes(rng, enc.encode(seed)));
}

/** Pick one element. */
export function pick<T>(rng: Prng, list: readonly T[]): T {
  return list[rng.int(list.length)];
}
