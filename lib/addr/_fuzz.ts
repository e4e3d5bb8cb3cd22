/**
 * Test-only helpers that generate hostile address text from a seeded {@link Prng}. Used by the
 * "never throws" tests in this directory; not re-exported from `mod.ts`.
 *
 * @module
 */
import type { Prng } from "../testing/prng.ts";

/** Characters that address parsers meet in practice, weighted by repetition. */
const ALPHABET = "0123456789" + "0123456789" + "abcdefABCDEF" + "xX" + "....::::" + "%/" +
  " \t\n\r" + "-+_gzG";

/** A random string of 0..`maxLen` characters, mostly from the address alphabet. */
export function randomAddressText(rng: Prng, maxLen: number): string {
  const n = rng.int(maxLen + 1);
  let s = "";
  for (let i = 0; i < n; i++) {
    const r = rng.int(64);
    if (r === 0) s += String.fromCharCode(rng.int(0x10000)); // any UTF-16 code unit
    else if (r === 1) s += String.fromCharCode(rng.int(0x80));
    else s += ALPHABET[rng.int(ALPHABET.length)];
  }
  return s;
}

/** One to three random edits of `text`: insert, delete, replace, duplicate or swap characters. */
export function mutate(rng: Prng, text: string): string {
  let s = text;
  const edits = 1 + rng.int(3);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(s.length + 1);
    const ch = ALPHABET[rng.int(ALPHABET.length)];
    switch (rng.int(5)) {
      case 0:
        s = s.slice(0, at) + ch + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1);
        break;
      case 2:
        s = s.slice(0, at) + ch + s.slice(at + 1);
        break;
      case 3: {
        const len = 1 + rng.int(5);
        s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
        break;
      }
      default: {
        if (s.length >= 2) {
          const i = rng.int(s.length - 1);
          s = s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
        }
      }
    }
  }
  return s;
}
