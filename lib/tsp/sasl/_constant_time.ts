/**
 * Private constant-time comparisons, so that checking a digest or a password does not leak how
 * many leading octets matched.
 *
 * @module
 */

/**
 * Whether two byte arrays are equal, in time that depends only on their lengths. A length
 * mismatch still walks the longer array.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Whether two strings are equal code unit by code unit, in time that depends only on lengths. */
export function constantTimeEqualString(a: string, b: string): boolean {
  const n = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < n; i++) {
    diff |= (i < a.length ? a.charCodeAt(i) : 0) ^ (i < b.length ? b.charCodeAt(i) : 0);
  }
  return diff === 0;
}
