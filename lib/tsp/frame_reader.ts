/**
 * Incremental reader for the TSP byte stream (protocol brief §2.3, §2.5, §8.1, §8.2): control
 * lines during authentication, then `Content-length: N` framed messages.
 *
 * Bytes go in with {@link FrameReader.push}; {@link FrameReader.next} takes out one item read in
 * the mode the caller is in *now*, so a session machine can switch from lines to frames in the
 * middle of a buffer (a client may send `AUTHENTICATE PLAIN` and its credentials in one segment,
 * or pipeline commands). {@link FrameReader.feed} is the fixed-mode shortcut: push, then drain.
 *
 * Modes:
 * - `"line"`: every CR LF (or bare LF) terminated line, terminator removed. Used for `VERSION=`,
 *   `AUTHENTICATE` and SASL lines.
 * - `"command"` (server reading a client): `Content-length: N` then N bytes gives a `frame`;
 *   empty lines are skipped; any other line is the error `not-framed`.
 * - `"reply"` (client reading a server): like `"command"`, but a line that is not a
 *   `Content-length:` header is returned as a `line` (an unframed status line as tsps sends it, a
 *   `CAPABILITY` line, a SASL challenge).
 *
 * In every mode NUL bytes at the start of a line are skipped and NUL bytes at its end are dropped
 * (gogoc sends `AUTHENTICATE ANONYMOUS\r\n\x00`). N counts bytes (not characters) and is capped.
 * Errors carry status 500 (`500 Invalid request format or specified length`) and are sticky: the
 * stream cannot be resynchronised, so the caller answers and closes.
 *
 * @module
 */

/** How the next item is read; see the module documentation. */
export type ReadMode = "line" | "command" | "reply";

/** Size limits. Every value is in bytes. */
export interface FrameLimits {
  /** Longest line, terminator excluded. Default 2048. */
  readonly maxLineLength?: number;
  /** Largest N accepted in `Content-length: N`. Default 16384. */
  readonly maxContentLength?: number;
  /** Most bytes held unread. Default 65536; must cover one line plus one frame. */
  readonly maxBuffered?: number;
}

/** The defaults of {@link FrameLimits}. */
export const DEFAULT_FRAME_LIMITS: Readonly<Required<FrameLimits>> = Object.freeze({
  maxLineLength: 2048,
  maxContentLength: 16384,
  maxBuffered: 65536,
});

/** Why the stream cannot be read further. */
export type FrameErrorReason =
  /** A line longer than `maxLineLength` without a terminator. */
  | "line-too-long"
  /** A `Content-length:` header whose value is not a decimal number. */
  | "bad-content-length"
  /** A `Content-length:` value above `maxContentLength`. */
  | "length-too-large"
  /** In `"command"` mode, a line that is not a `Content-length:` header. */
  | "not-framed"
  /** More than `maxBuffered` bytes pushed and not read. */
  | "buffer-overflow";

/** One item read from the stream. Byte arrays are fresh copies the caller may keep. */
export type FrameItem =
  | { readonly kind: "line"; readonly line: Uint8Array }
  | { readonly kind: "frame"; readonly body: Uint8Array }
  | {
    readonly kind: "error";
    readonly reason: FrameErrorReason;
    /** Always 500: the status to answer with before closing. */
    readonly status: 500;
    /** A human-readable description, e.g. `Cannot read frame: length 99999 above 16384`. */
    readonly detail: string;
  };

/** Options of {@link FrameReader}. */
export interface FrameReaderOptions {
  /** The mode used by {@link FrameReader.feed} and by `next()` without an argument. */
  readonly mode?: ReadMode;
  /** Size limits; see {@link FrameLimits}. */
  readonly limits?: FrameLimits;
}

const LF = 0x0a;
const CR = 0x0d;
const HEADER = "content-length:";

/** Incremental line and `Content-length` frame reader; see the module documentation. */
export class FrameReader {
  readonly #mode: ReadMode;
  readonly #maxLine: number;
  readonly #maxContent: number;
  readonly #maxBuffered: number;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #pending = -1;
  #completed = 0;
  #error: FrameItem | null = null;

  /** Create a reader. Throws `RangeError` for limits that are not positive or do not fit. */
  constructor(options: FrameReaderOptions = {}) {
    this.#mode = options.mode ?? "line";
    const l = { ...DEFAULT_FRAME_LIMITS, ...(options.limits ?? {}) };
    for (const [k, v] of Object.entries(l)) {
      if (!Number.isInteger(v) || v <= 0) {
        throw new RangeError(`Cannot create frame reader: ${k} must be a positive integer`);
      }
    }
    if (l.maxBuffered < l.maxLineLength + l.maxContentLength + 2) {
      throw new RangeError("Cannot create frame reader: maxBuffered must hold a line and a frame");
    }
    this.#maxLine = l.maxLineLength;
    this.#maxContent = l.maxContentLength;
    this.#maxBuffered = l.maxBuffered;
    this.#buf = new Uint8Array(Math.min(4096, l.maxBuffered));
  }

  /** Bytes pushed and not yet read. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * True while an item is started and not complete: a `Content-length` header was read and its
   * body is not all here, or bytes of a line (or of a header line) are held. Read it after
   * {@link next} returned `null`: every complete item has then been taken, and NULs between items
   * were skipped, so it says exactly whether the peer stopped in the middle of an item (what a
   * slow-read timer needs). False after an error.
   */
  get partial(): boolean {
    return this.#pending >= 0 || this.#end > this.#start;
  }

  /**
   * How many items have ended so far: lines and frames returned, and the empty lines skipped
   * between frames. With {@link partial}, a caller can tell that one item ended and another began
   * (a slow-read timer restarts then, not while one item trickles in).
   */
  get completed(): number {
    return this.#completed;
  }

  /** The sticky error reason, or `null` while the stream is readable. */
  get failed(): FrameErrorReason | null {
    return this.#error?.kind === "error" ? this.#error.reason : null;
  }

  /**
   * Append bytes. Returns `false` (and makes the reader fail with `buffer-overflow`) when more
   * than `maxBuffered` bytes would be held.
   */
  push(chunk: Uint8Array): boolean {
    if (this.#error) return false;
    const n = chunk.length;
    if (n === 0) return true;
    const held = this.#end - this.#start;
    if (held + n > this.#maxBuffered) {
      this.#fail(
        "buffer-overflow",
        `Cannot read frame: more than ${this.#maxBuffered} bytes unread`,
      );
      return false;
    }
    if (this.#end + n > this.#buf.length) {
      if (held + n <= this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        let cap = this.#buf.length;
        while (cap < held + n) cap *= 2;
        const next = new Uint8Array(Math.min(cap, this.#maxBuffered));
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#start = 0;
      this.#end = held;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += n;
    return true;
  }

  /** Push `chunk`, then read every complete item in the reader's own mode. */
  feed(chunk: Uint8Array): FrameItem[] {
    this.push(chunk);
    const out: FrameItem[] = [];
    for (;;) {
      const item = this.next();
      if (item === null) break;
      out.push(item);
      if (item.kind === "error") break;
    }
    return out;
  }

  /**
   * Read one item in `mode` (default: the reader's mode), or `null` when more bytes are needed.
   * After an error, every call returns that same error.
   */
  next(mode: ReadMode = this.#mode): FrameItem | null {
    if (this.#error) return this.#error;
    for (;;) {
      if (this.#pending >= 0) {
        if (this.#end - this.#start < this.#pending) return null;
        const body = this.#buf.slice(this.#start, this.#start + this.#pending);
        this.#start += this.#pending;
        this.#pending = -1;
        this.#completed++;
        this.#compactIfEmpty();
        return { kind: "frame", body };
      }
      // Skip NULs between lines (gogoc's trailing NUL after AUTHENTICATE).
      while (this.#start < this.#end && this.#buf[this.#start] === 0) this.#start++;
      const lineEnd = this.#buf.subarray(this.#start, this.#end).indexOf(LF);
      if (lineEnd < 0) {
        const held = this.#end - this.#start;
        // Allow one CR beyond the limit: it may be the first half of the terminator.
        if (held > this.#maxLine + 1) {
          return this.#fail(
            "line-too-long",
            `Cannot read line: longer than ${this.#maxLine} bytes`,
          );
        }
        this.#compactIfEmpty();
        return null;
      }
      let e = this.#start + lineEnd;
      const next = e + 1;
      if (e > this.#start && this.#buf[e - 1] === CR) e--;
      while (e > this.#start && this.#buf[e - 1] === 0) e--;
      if (e - this.#start > this.#maxLine) {
        return this.#fail("line-too-long", `Cannot read line: longer than ${this.#maxLine} bytes`);
      }
      const s = this.#start;
      this.#start = next;
      if (mode === "line") {
        const line = this.#buf.slice(s, e);
        this.#completed++;
        this.#compactIfEmpty();
        return { kind: "line", line };
      }
      if (e === s) {
        this.#completed++; // an empty line between frames
        continue;
      }
      const header = this.#header(s, e);
      if (header === "none") {
        if (mode === "command") {
          return this.#fail("not-framed", "Cannot read frame: expected a Content-length line");
        }
        const line = this.#buf.slice(s, e);
        this.#completed++;
        this.#compactIfEmpty();
        return { kind: "line", line };
      }
      if (header === "bad") {
        return this.#fail("bad-content-length", "Cannot read frame: bad Content-length value");
      }
      if (header > this.#maxContent) {
        return this.#fail(
          "length-too-large",
          `Cannot read frame: length ${header} above ${this.#maxContent}`,
        );
      }
      this.#pending = header;
    }
  }

  /** Parse a `Content-length:` header line in [s, e): the length, "none" or "bad". */
  #header(s: number, e: number): number | "none" | "bad" {
    if (e - s < HEADER.length) return "none";
    for (let i = 0; i < HEADER.length; i++) {
      let c = this.#buf[s + i];
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== HEADER.charCodeAt(i)) return "none";
    }
    let i = s + HEADER.length;
    while (i < e && (this.#buf[i] === 0x20 || this.#buf[i] === 0x09)) i++;
    let n = 0;
    let digits = 0;
    while (i < e && this.#buf[i] >= 0x30 && this.#buf[i] <= 0x39) {
      n = n * 10 + (this.#buf[i] - 0x30);
      i++;
      if (++digits > 9) return "bad";
    }
    while (i < e && (this.#buf[i] === 0x20 || this.#buf[i] === 0x09)) i++;
    if (digits === 0 || i !== e) return "bad";
    return n;
  }

  #compactIfEmpty(): void {
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  #fail(reason: FrameErrorReason, detail: string): FrameItem {
    this.#error = { kind: "error", reason, status: 500, detail };
    this.#start = this.#end = 0;
    this.#pending = -1;
    return this.#error;
  }
}
