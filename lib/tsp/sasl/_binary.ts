/**
 * Private helpers for "binary strings": JS strings whose every code unit is one byte (0..255).
 * DIGEST-MD5 hashes exact octets, and the peer's octets are kept exactly as they came off the wire
 * by carrying them as binary strings from base64 decoding through directive parsing into MD5.
 *
 * @module
 */
import { createHash } from "node:crypto";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Bytes per `String.fromCharCode` call (well under any engine's argument limit). */
const CHUNK = 4096;

/** Bytes to a binary string (one code unit per byte). */
export function binFromBytes(bytes: Uint8Array): string {
  if (bytes.length <= CHUNK) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  let s = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return s;
}

/** A binary string back to bytes (code units above 255 are truncated; callers never pass any). */
export function bytesFromBin(bin: string): Uint8Array {
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i) & 0xff;
  return out;
}

/** A text as its UTF-8 octets, as a binary string. */
export function utf8ToBin(text: string): string {
  return binFromBytes(encoder.encode(text));
}

/** A binary string read as UTF-8, or `undefined` if its octets are not valid UTF-8. */
export function binToUtf8(bin: string): string | undefined {
  try {
    return decoder.decode(bytesFromBin(bin));
  } catch {
    return undefined;
  }
}

/**
 * A text as ISO 8859-1 octets (binary string) when every character fits, else `undefined`
 * (RFC 2831 §2.1.2.1: with `charset=utf-8`, names and passwords that fit in 8859-1 are converted
 * to it before hashing).
 */
export function latin1Bin(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return undefined;
  return text;
}

/** The 16-octet MD5 digest (RFC 1321) of some bytes. */
export function md5(bytes: Uint8Array): Uint8Array {
  return createHash("md5").update(bytes).digest();
}

/** HEX(H(bytes)): the MD5 digest as 32 lower-case hex digits. */
export function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** H(octets) of a binary string, as a 16-octet binary string (no byte arrays either way). */
export function md5Bin(bin: string): string {
  return createHash("md5").update(bin, "latin1").digest("latin1");
}

/** HEX(H(octets)) of a binary string. */
export function md5HexBin(bin: string): string {
  return createHash("md5").update(bin, "latin1").digest("hex");
}

/** The 32-octet SHA-256 digest of some bytes. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}
