/**
 * Deterministic pseudo-random numbers for tests (mulberry32). Seeded so that a failing random
 * test can be replayed exactly.
 */
export class Prng {
  #s: number;
  /** Create a generator from a 32-bit seed. */
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** Next unsigned 32-bit integer. */
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return this.u32() % n;
  }
  /** Fill `out` with random bytes and return it. */
  fill(out: Uint8Array): Uint8Array {
    for (let i = 0; i < out.length; i++) out[i] = this.u32() & 0xff;
    return out;
  }
  /** A fresh random byte array of length `n`. */
  bytes(n: number): Uint8Array {
    return this.fill(new Uint8Array(n));
  }
}
