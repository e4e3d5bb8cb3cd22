/**
 * CRC-32 (IEEE 802.3 / zlib polynomial 0xEDB88320), for journal and snapshot integrity checks.
 *
 * @module
 */

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/**
 * CRC-32 of `bytes[start..end)`, continuing from `prev` (the CRC of the preceding data, 0 to
 * start), so `crc32(b, 0, b.length, crc32(a))` is the CRC of `a` followed by `b`. Returns an
 * unsigned 32-bit integer; `crc32("123456789")` is 0xCBF43926.
 */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, prev = 0): number {
  let c = ~prev;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
