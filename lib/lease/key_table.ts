/**
 * An open-addressing hash table from fixed-width byte keys to small integers, where the keys are
 * not copied: each value is an index into an external key store (`keys()[value*width ..]`) that
 * already holds the key. The lease allocator uses it as its IPv6 → lease index: 4 bytes per slot
 * and no allocation per lookup, instead of a `Map` with a string per address.
 *
 * @module
 */

/** Byte-key → index table; the key of value `v` lives at `keys()[v*width .. v*width+width)`. */
export class KeyTable {
  readonly #width: number;
  readonly #keys: () => Uint8Array;
  #slots: Int32Array; // value + 1; 0 = empty
  #mask: number;
  #count = 0;

  /** `width`: key length in bytes (a multiple of 4); `keys`: returns the current key store. */
  constructor(width: number, keys: () => Uint8Array, initialSlots = 64) {
    if (width <= 0 || width % 4 !== 0) throw new RangeError(`Cannot use key width ${width}`);
    this.#width = width;
    this.#keys = keys;
    let n = 16;
    while (n < initialSlots) n *= 2;
    this.#slots = new Int32Array(n);
    this.#mask = n - 1;
  }

  /** Number of keys. */
  get size(): number {
    return this.#count;
  }

  /** Number of slots (memory use is 4 bytes per slot). */
  get capacity(): number {
    return this.#slots.length;
  }

  /** The value stored for the key at `key[off..]`, or -1. */
  get(key: Uint8Array, off: number): number {
    const s = this.#find(key, off);
    return s < 0 ? -1 : this.#slots[s] - 1;
  }

  /**
   * Map the key at `key[off..]` to `value` (insert or replace). The key store must hold that key
   * at `value` from now on.
   */
  set(key: Uint8Array, off: number, value: number): void {
    const s = this.#find(key, off);
    if (s >= 0) {
      this.#slots[s] = value + 1;
      return;
    }
    if ((this.#count + 1) * 2 > this.#slots.length) this.#resize(this.#slots.length * 2);
    let i = this.#hash(key, off) & this.#mask;
    while (this.#slots[i] !== 0) i = (i + 1) & this.#mask;
    this.#slots[i] = value + 1;
    this.#count++;
  }

  /** Remove the key at `key[off..]`; returns whether it was there. */
  delete(key: Uint8Array, off: number): boolean {
    let i = this.#find(key, off);
    if (i < 0) return false;
    const slots = this.#slots;
    const mask = this.#mask;
    const keys = this.#keys();
    // backward-shift deletion keeps every probe sequence unbroken
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const v = slots[j];
      if (v === 0) break;
      const home = this.#hash(keys, (v - 1) * this.#width) & mask;
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) {
        slots[i] = v;
        i = j;
      }
    }
    slots[i] = 0;
    this.#count--;
    return true;
  }

  #find(key: Uint8Array, off: number): number {
    const slots = this.#slots;
    const mask = this.#mask;
    const keys = this.#keys();
    const w = this.#width;
    let i = this.#hash(key, off) & mask;
    for (;;) {
      const v = slots[i];
      if (v === 0) return -1;
      const base = (v - 1) * w;
      let k = 0;
      while (k < w && keys[base + k] === key[off + k]) k++;
      if (k === w) return i;
      i = (i + 1) & mask;
    }
  }

  #hash(b: Uint8Array, off: number): number {
    let h = 0x811c9dc5;
    for (let k = 0; k < this.#width; k += 4) {
      const word = b[off + k] | (b[off + k + 1] << 8) | (b[off + k + 2] << 16) |
        (b[off + k + 3] << 24);
      h = Math.imul(h ^ word, 0x9e3779b1);
      h ^= h >>> 15;
    }
    h = Math.imul(h ^ (h >>> 13), 0x85ebca6b);
    return (h ^ (h >>> 16)) >>> 0;
  }

  #resize(n: number): void {
    const old = this.#slots;
    const keys = this.#keys();
    this.#slots = new Int32Array(n);
    this.#mask = n - 1;
    for (let s = 0; s < old.length; s++) {
      const v = old[s];
      if (v === 0) continue;
      let i = this.#hash(keys, (v - 1) * this.#width) & this.#mask;
      while (this.#slots[i] !== 0) i = (i + 1) & this.#mask;
      this.#slots[i] = v;
    }
  }
}
