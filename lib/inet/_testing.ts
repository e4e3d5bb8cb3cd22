/**
 * Test-only helpers for the codec tests in this directory: hex literals and hostile inputs from a
 * seeded {@link Prng}. Not re-exported from `mod.ts`.
 *
 * @module
 */
import type { Prng } from "../testing/prng.ts";

/** Bytes from hex text; whitespace and `:` are ignored (paste tcpdump `-xx` output bodies). */
export function hex(text: string): Uint8Array {
  const s = text.replace(/[\s:]/g, "");
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) throw new TypeError(`Cannot parse hex: ${s}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Lower-case hex of `bytes`, for readable assertion failures. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** `bytes` copied to offset `pad` of a larger buffer, returned as a subarray (non-zero byteOffset). */
export function shifted(bytes: Uint8Array, pad = 7): Uint8Array {
  const big = new Uint8Array(bytes.length + 2 * pad).fill(0xee);
  big.set(bytes, pad);
  return big.subarray(pad, pad + bytes.length);
}

/**
 * Call `fn` with `count` hostile inputs: half random bytes of length 0..`maxLen`, half mutated
 * copies of `seeds` (1 to 4 edits: set a byte, flip a bit, truncate, extend). Inputs are views
 * into one scratch buffer, so `fn` must not keep them.
 */
export function forEachHostileInput(
  rng: Prng,
  seeds: readonly Uint8Array[],
  count: number,
  maxLen: number,
  fn: (input: Uint8Array) => void,
): void {
  let cap = maxLen + 64;
  for (const s of seeds) cap = Math.max(cap, s.length + 64);
  const scratch = new Uint8Array(cap);
  for (let n = 0; n < count; n++) {
    let len: number;
    if ((n & 1) === 0 || seeds.length === 0) {
      len = rng.int(maxLen + 1);
      for (let i = 0; i < len; i += 4) {
        const r = rng.u32();
        scratch[i] = r;
        scratch[i + 1] = r >>> 8;
        scratch[i + 2] = r >>> 16;
        scratch[i + 3] = r >>> 24;
      }
    } else {
      const seed = seeds[rng.int(seeds.length)];
      scratch.set(seed);
      len = seed.length;
      const edits = 1 + rng.int(4);
      for (let e = 0; e < edits; e++) {
        const what = rng.int(8);
        if (what < 3 && len > 0) scratch[rng.int(len)] = rng.u32() & 0xff;
        else if (what < 6 && len > 0) scratch[rng.int(len)] ^= 1 << rng.int(8);
        else if (what === 6) len = rng.int(len + 1);
        else {
          const grow = Math.min(rng.int(32), cap - len);
          for (let i = 0; i < grow; i++) scratch[len + i] = rng.u32() & 0xff;
          len += grow;
        }
      }
    }
    fn(scratch.subarray(0, len));
  }
}
