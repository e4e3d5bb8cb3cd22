/**
 * Subarray views for FFI writes at an offset, made once and reused: `write(2)` through the FFI
 * takes a buffer and a length from its start, and the forwarding core leaves its output at an
 * offset of one of a few buffers (the read buffer's headroom, its `out` buffer, its scratch).
 * Creating `buf.subarray(off)` per packet would allocate; the set of (buffer, offset) pairs
 * seen in practice is small, so each view is made on first use and kept.
 *
 * @module
 */

/** Cached `buf.subarray(off)` views. */
export class ViewCache {
  readonly #byBuffer = new Map<Uint8Array, (Uint8Array | undefined)[]>();
  #count = 0;

  /** Views made so far (bounded by the distinct offsets used). */
  get size(): number {
    return this.#count;
  }

  /** `buf.subarray(off)`, the same object every time for the same `buf` and `off`. */
  view(buf: Uint8Array, off: number): Uint8Array {
    if (off === 0) return buf;
    let views = this.#byBuffer.get(buf);
    if (views === undefined) {
      views = [];
      this.#byBuffer.set(buf, views);
    }
    let v = views[off];
    if (v === undefined) {
      v = buf.subarray(off);
      views[off] = v;
      this.#count++;
    }
    return v;
  }
}
