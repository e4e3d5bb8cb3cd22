/**
 * Slow-read detection (pure): is a line or a `Content-length` frame partly received, and since
 * when? The shell closes a connection whose started line or frame does not complete within the
 * frame timeout, so a peer that trickles bytes cannot hold a connection (and its buffers) open.
 *
 * This mirrors the TSP framing of `lib/tsp/frame_reader.ts` (brief §2.5, §8.2) just enough to
 * know where items end: in `line` mode an item ends at LF; in `frame` mode an item is a
 * `Content-length: N` line followed by N bytes. NUL bytes between items do not start one.
 * Malformed input is the session's business (it answers 500 and closes); here it only counts as
 * "partial" until the next LF.
 *
 * @module
 */

/** How the peer's bytes are framed now. */
export type ProgressMode = "line" | "frame";

const LF = 0x0a;
const HEADER_RE = /^content-length:[ \t]*(\d{1,9})[ \t]*$/i;
const MAX_HEADER = 64;

/** Tracks partial input of one connection; see the module documentation. */
export class ReadProgress {
  #mode: ProgressMode;
  #lineBytes = 0;
  #header = "";
  #body = 0;
  #since: number | null = null;

  /** Start in `mode` (`line` until authentication ends). */
  constructor(mode: ProgressMode = "line") {
    this.#mode = mode;
  }

  /** The current mode. */
  get mode(): ProgressMode {
    return this.#mode;
  }

  /** When the item now partly received started (ms), or `null` when nothing is pending. */
  get partialSince(): number | null {
    return this.#since;
  }

  /** Switch framing (authentication finished); forgets any partial state. */
  setMode(mode: ProgressMode): void {
    this.#mode = mode;
    this.#lineBytes = 0;
    this.#header = "";
    this.#body = 0;
    this.#since = null;
  }

  /** Account for bytes received at `now`. */
  feed(bytes: Uint8Array, now: number): void {
    const n = bytes.length;
    let i = 0;
    while (i < n) {
      if (this.#body > 0) {
        const take = Math.min(this.#body, n - i);
        this.#body -= take;
        i += take;
        if (this.#body === 0) this.#since = null;
        continue;
      }
      const b = bytes[i++];
      if (b === LF) {
        if (this.#mode === "frame") {
          const m = HEADER_RE.exec(this.#header.replace(/\r$/, ""));
          if (m) this.#body = Number(m[1]);
        }
        this.#lineBytes = 0;
        this.#header = "";
        if (this.#body === 0) this.#since = null;
        continue;
      }
      if (b === 0 && this.#lineBytes === 0) continue;
      this.#lineBytes++;
      if (this.#mode === "frame" && this.#header.length < MAX_HEADER) {
        this.#header += String.fromCharCode(b);
      }
    }
    const partial = this.#body > 0 || this.#lineBytes > 0;
    if (!partial) this.#since = null;
    else if (this.#since === null) this.#since = now;
  }
}
