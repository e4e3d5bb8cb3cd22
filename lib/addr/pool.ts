/**
 * Index math for an IPv4 address pool: the usable addresses of a CIDR block, minus excluded
 * addresses, numbered densely `0..size-1` in address order. The server's allocator works on these
 * indices (a bitmap or free list of `size` entries) and converts at the edges.
 *
 * Both directions cost O(log E) for E exclusions (binary search over a sorted `Uint32Array`), no
 * allocation; memory is 4 bytes per exclusion, independent of the block size, so a /8 pool with
 * a handful of exclusions costs next to nothing.
 *
 * @module
 */
import { type Cidr4, contains4 } from "./cidr.ts";
import { formatIpv4 } from "./ipv4.ts";

/** Options for {@link Ipv4Pool}. */
export interface Ipv4PoolOptions {
  /**
   * Exclude the network (lowest) and broadcast (highest) addresses of the block when its prefix
   * is shorter than /31. Default `true`. A /31 (RFC 3021) or /32 never loses any address this way.
   */
  readonly excludeNetworkAndBroadcast?: boolean;
}

/**
 * The usable addresses of an IPv4 CIDR block, numbered `0..size-1` in ascending address order,
 * skipping excluded addresses.
 *
 * Exclusions: the network and broadcast addresses (prefixes shorter than /31, unless
 * `excludeNetworkAndBroadcast: false`) plus the `excluded` list. Duplicates are merged and
 * addresses outside the block are ignored, so one exclusion list (gateways, DNS servers, the
 * server's own address) can be shared by several pools; a config layer that wants to flag an
 * exclusion outside its pool checks it with `contains4` first.
 *
 * @example
 * ```ts
 * const pool = new Ipv4Pool(makeCidr4(0xc6336400, 24), [0xc6336401]); // 198.51.100.0/24 minus .1
 * pool.size; // 253 (.2 .. .254)
 * formatIpv4(pool.addressAt(0)); // "198.51.100.2"
 * pool.indexOf(0xc6336401); // -1 (excluded)
 * ```
 */
export class Ipv4Pool {
  /** The block the pool is drawn from. */
  readonly cidr: Cidr4;
  /** Number of usable addresses: valid indices are `0..size-1`. */
  readonly size: number;
  /** Excluded offsets from `cidr.network`, ascending, no duplicates, all inside the block. */
  readonly #excluded: Uint32Array;

  /**
   * Build a pool over `cidr` minus `excluded` (see the class documentation).
   *
   * @throws {RangeError} if `cidr` is not a consistent block (build it with `parseCidr4` or
   * `makeCidr4`) or an excluded value is not an unsigned 32-bit integer (programmer errors).
   */
  constructor(cidr: Cidr4, excluded: Iterable<number> = [], options?: Ipv4PoolOptions) {
    const { network, prefix, mask } = cidr;
    if (
      !Number.isInteger(prefix) || prefix < 0 || prefix > 32 ||
      mask !== (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0) ||
      (network >>> 0) !== network || ((network & mask) >>> 0) !== network
    ) {
      throw new RangeError(
        `Cannot make IPv4 pool: inconsistent CIDR block ${JSON.stringify(cidr)}`,
      );
    }
    this.cidr = { network, prefix, mask };
    const blockSize = 2 ** (32 - prefix);
    const offsets: number[] = [];
    if (options?.excludeNetworkAndBroadcast !== false && prefix < 31) {
      offsets.push(0, blockSize - 1);
    }
    for (const a of excluded) {
      if (typeof a !== "number" || (a >>> 0) !== a) {
        throw new RangeError(`Cannot make IPv4 pool: excluded value ${a} is not an IPv4 address`);
      }
      if (contains4(this.cidr, a)) offsets.push(a - network);
    }
    const sorted = Uint32Array.from(offsets).sort();
    let n = 0;
    for (let i = 0; i < sorted.length; i++) {
      if (n === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i];
    }
    this.#excluded = sorted.slice(0, n);
    this.size = blockSize - n;
  }

  /** Number of distinct excluded addresses inside the block (including network and broadcast). */
  get excludedCount(): number {
    return this.#excluded.length;
  }

  /**
   * The address (unsigned 32-bit integer) with pool index `index`. O(log exclusions), no
   * allocation.
   *
   * @throws {RangeError} if `index` is not an integer in `0..size-1` (a programmer error).
   */
  addressAt(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`Cannot get pool address: index ${index} is not in 0..${this.size - 1}`);
    }
    // e[j] - j (usable addresses below the j-th exclusion) never decreases with j. Count the
    // exclusions with e[j] - j <= index: each of them lies below the wanted address.
    const e = this.#excluded;
    let lo = 0;
    let hi = e.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (e[mid] - mid <= index) lo = mid + 1;
      else hi = mid;
    }
    return this.cidr.network + index + lo;
  }

  /**
   * The pool index of the address `u32`, or -1 if it is outside the block or excluded.
   * O(log exclusions), no allocation. Never throws: any number that is not a usable address
   * gives -1.
   */
  indexOf(u32: number): number {
    if (typeof u32 !== "number" || (u32 >>> 0) !== u32 || !contains4(this.cidr, u32)) return -1;
    const off = (u32 - this.cidr.network) >>> 0; // >>> 0 also turns -0 into 0
    const e = this.#excluded;
    let lo = 0;
    let hi = e.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (e[mid] < off) lo = mid + 1;
      else hi = mid;
    }
    if (lo < e.length && e[lo] === off) return -1;
    return off - lo;
  }

  /** True if `u32` is a usable address of this pool (inside the block and not excluded). */
  has(u32: number): boolean {
    return this.indexOf(u32) >= 0;
  }

  /** A short description for logs, e.g. `198.51.100.0/24 (253 usable, 3 excluded)`. */
  toString(): string {
    return `${
      formatIpv4(this.cidr.network)
    }/${this.cidr.prefix} (${this.size} usable, ${this.#excluded.length} excluded)`;
  }
}
