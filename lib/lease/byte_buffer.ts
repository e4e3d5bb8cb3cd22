/**
 * Little-endian byte writer (growable) and checked reader used by the journal and snapshot codecs.
 * The reader never throws on input: a read past the end sets `failed` and returns zeros.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 length of `s` in bytes (lone surrogates count 3, as `TextEncoder` writes U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** A growable little-endian byte buffer. `bytes()` views the written part (no copy). */
export class ByteWriter {
  #buf: Uint8Array;
  #dv: DataView;
  /** Bytes written so far. */
  length = 0;

  /** Start with `capacity` bytes (grows by doubling). */
  constructor(capacity = 4096) {
    this.#buf = new Uint8Array(Math.max(16, capacity));
    this.#dv = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
  }

  /** The written bytes (a view, valid until the next write or `clear`). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }

  /** Forget the contents (keeps the memory). */
  clear(): void {
    this.length = 0;
  }

  /** Make room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.#buf.subarray(0, this.length));
    this.#buf = b;
    this.#dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Append one byte. */
  u8(v: number): void {
    this.ensure(1);
    this.#buf[this.length++] = v;
  }

  /** Append a uint16. */
  u16(v: number): void {
    this.ensure(2);
    this.#dv.setUint16(this.length, v, true);
    this.length += 2;
  }

  /** Append a uint32. */
  u32(v: number): void {
    this.ensure(4);
    this.#dv.setUint32(this.length, v >>> 0, true);
    this.length += 4;
  }

  /** Overwrite a uint32 at `at` (already written). */
  setU32(at: number, v: number): void {
    this.#dv.setUint32(at, v >>> 0, true);
  }

  /** Append a float64. */
  f64(v: number): void {
    this.ensure(8);
    this.#dv.setFloat64(this.length, v, true);
    this.length += 8;
  }

  /** Append raw bytes. */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }

  /** Append `n` bytes of `src` from `off`. */
  rawFrom(src: Uint8Array, off: number, n: number): void {
    this.ensure(n);
    const b = this.#buf;
    for (let k = 0; k < n; k++) b[this.length + k] = src[off + k];
    this.length += n;
  }

  /** Append a string as uint32 byte length + UTF-8. */
  str(s: string): void {
    const n = utf8Length(s);
    this.u32(n);
    this.ensure(n);
    if (n === s.length) {
      // ASCII (identities and TEP names, nearly always): no view, no encoder
      const b = this.#buf;
      for (let k = 0, o = this.length; k < n; k++) b[o + k] = s.charCodeAt(k);
    } else encoder.encodeInto(s, this.#buf.subarray(this.length, this.length + n));
    this.length += n;
  }
}

/** A checked little-endian reader over `bytes[start..end)`. */
export class ByteReader {
  readonly #b: Uint8Array;
  readonly #dv: DataView;
  readonly #end: number;
  /** Current offset. */
  pos: number;
  /** Set once any read ran past the end or met invalid UTF-8. */
  failed = false;

  /** Read `bytes[start..end)`. */
  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.#b = bytes;
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.#end = Math.min(end, bytes.length);
  }

  /** Bytes left. */
  get remaining(): number {
    return this.#end - this.pos;
  }

  #take(n: number): number {
    if (this.failed || n > this.#end - this.pos) {
      this.failed = true;
      return -1;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** Read one byte. */
  u8(): number {
    const at = this.#take(1);
    return at < 0 ? 0 : this.#b[at];
  }

  /** Read a uint16. */
  u16(): number {
    const at = this.#take(2);
    return at < 0 ? 0 : this.#dv.getUint16(at, true);
  }

  /** Read a uint32. */
  u32(): number {
    const at = this.#take(4);
    return at < 0 ? 0 : this.#dv.getUint32(at, true);
  }

  /** Read a float64. */
  f64(): number {
    const at = this.#take(8);
    return at < 0 ? 0 : this.#dv.getFloat64(at, true);
  }

  /** Read `n` bytes (a copy; empty on failure). */
  raw(n: number): Uint8Array {
    const at = this.#take(n);
    return at < 0 ? new Uint8Array(0) : this.#b.slice(at, at + n);
  }

  /** Read a uint32-length-prefixed UTF-8 string. */
  str(): string {
    const n = this.u32();
    const at = this.#take(n);
    if (at < 0) return "";
    try {
      return decoder.decode(this.#b.subarray(at, at + n));
    } catch {
      this.failed = true;
      return "";
    }
  }
}
