/**
 * Encoders for what goes on the TSP stream (protocol brief §2.3, §2.5, §8.1): control lines, and
 * `Content-length: N` framed commands and replies, each as ONE buffer so that a shell sends it in
 * one write (TCP) or one datagram (UDP).
 *
 * N counts UTF-8 bytes. A command's body is the XML plus CR LF; a reply's body is the status
 * line, CR LF, and (when present) the XML plus CR LF. This is how gogoc, the Java TSP client and
 * tsps count, and it reproduces the draft's own `Content-length: 35` for `accept`.
 *
 * @module
 */
import { formatStatusLine } from "./status_line.ts";

const encoder = new TextEncoder();
const CRLF = "\r\n";

/** A line with CR LF appended, as bytes. Throws `TypeError` if `text` contains CR or LF. */
export function encodeLine(text: string): Uint8Array {
  if (/[\r\n]/.test(text)) throw new TypeError("Cannot encode line: text contains CR or LF");
  return encoder.encode(text + CRLF);
}

/** Bytes of a line given as bytes (e.g. raw SASL PLAIN credentials) with CR LF appended. */
export function encodeLineBytes(line: Uint8Array): Uint8Array {
  const out = new Uint8Array(line.length + 2);
  out.set(line);
  out[line.length] = 0x0d;
  out[line.length + 1] = 0x0a;
  return out;
}

/** `Content-length: N\r\n` followed by `body` (UTF-8 when a string), in one fresh buffer. */
export function encodeFrame(body: string | Uint8Array): Uint8Array {
  if (typeof body === "string") {
    // ASCII (every TSP message the server writes): copy the characters, no encoder call.
    const head = `Content-length: ${body.length}${CRLF}`;
    const out = new Uint8Array(head.length + body.length);
    for (let i = 0; i < head.length; i++) out[i] = head.charCodeAt(i);
    let i = 0;
    for (; i < body.length; i++) {
      const c = body.charCodeAt(i);
      if (c > 0x7f) break;
      out[head.length + i] = c;
    }
    if (i === body.length) return out;
  }
  const b = typeof body === "string" ? encoder.encode(body) : body;
  const head = encoder.encode(`Content-length: ${b.length}${CRLF}`);
  const out = new Uint8Array(head.length + b.length);
  out.set(head);
  out.set(b, head.length);
  return out;
}

/**
 * Write `Content-length: N\r\n` and `body` into `out` at `offset`; returns the bytes written, or
 * 0 when they do not fit (nothing is written then).
 */
export function writeFrame(body: Uint8Array, out: Uint8Array, offset = 0): number {
  const head = `Content-length: ${body.length}${CRLF}`;
  const total = head.length + body.length;
  if (offset < 0 || offset + total > out.length) return 0;
  for (let i = 0; i < head.length; i++) out[offset + i] = head.charCodeAt(i);
  out.set(body, offset + head.length);
  return total;
}

/** A framed client command: `Content-length: N\r\n<xml>\r\n` with N covering the XML and CR LF. */
export function encodeCommand(xml: string): Uint8Array {
  return encodeFrame(xml + CRLF);
}

/**
 * A framed server reply: `Content-length: N\r\n<code> <text>\r\n[<xml>\r\n]`, N covering the
 * status line, the XML and both CR LF. The text defaults to the status table's text. Throws
 * `RangeError`/`TypeError` for a bad code or text (see `formatStatusLine`).
 */
export function encodeReply(code: number, text?: string, xml?: string): Uint8Array {
  const line = formatStatusLine(code, text);
  return encodeFrame(line + CRLF + (xml === undefined ? "" : xml + CRLF));
}
