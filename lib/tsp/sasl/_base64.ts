/**
 * Private base64 (RFC 4648 §4) codec for DIGEST-MD5 lines. The decoder is strict about the
 * alphabet and never throws: `atob` would throw on bad input and silently skip inner whitespace.
 *
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Base64 of a binary string's octets, with `=` padding. Every code unit must be 0..255 (a binary
 * string, see `_binary.ts`); anything else is a programmer error and throws.
 */
export function encodeBase64Bin(bin: string): string {
  return btoa(bin);
}

/** Base64 of some bytes, with `=` padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let s = "";
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    s += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    s += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + "=";
  }
  return s;
}

/** Space, tab or NUL: ignored around a line (gogoc pads some writes with a NUL, brief §8.2). */
function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x00;
}

/** Why {@link decodeBase64} refused a line. */
export type Base64Reason = "too-long" | "invalid-char" | "bad-length" | "bad-padding";

/** Result of {@link decodeBase64}. */
export type Base64Result =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly reason: Base64Reason };

/**
 * Decode one base64 line. Spaces, tabs and NULs around the text are ignored; inside it, only the
 * alphabet and final `=` padding are allowed. Unpadded input is accepted when its length is
 * possible (not 1 mod 4); padded input must be a multiple of 4 characters. `maxBytes` bounds the
 * decoded size.
 */
export function decodeBase64(line: Uint8Array, maxBytes: number): Base64Result {
  let start = 0;
  let end = line.length;
  while (start < end && isBlank(line[start])) start++;
  while (end > start && isBlank(line[end - 1])) end--;
  let pad = 0;
  while (end - pad > start && pad < 2 && line[end - pad - 1] === 0x3d) pad++;
  const chars = end - start - pad;
  if (pad > 0 && (end - start) % 4 !== 0) return { ok: false, reason: "bad-padding" };
  if (chars % 4 === 1) return { ok: false, reason: "bad-length" };
  const size = Math.floor((chars * 3) / 4);
  if (size > maxBytes) return { ok: false, reason: "too-long" };
  const out = new Uint8Array(size);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = start; i < start + chars; i++) {
    const v = DECODE[line[i]];
    if (v < 0) return { ok: false, reason: line[i] === 0x3d ? "bad-padding" : "invalid-char" };
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return { ok: true, bytes: out };
}
