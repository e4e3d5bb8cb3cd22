/**
 * The IPv4 address space a lease allocator hands out, seen as a dense range of pool indices.
 *
 * The allocator only ever talks in pool indices `0 .. size-1`; a `PoolSpace` maps them to IPv4
 * addresses (unsigned 32-bit integers) and back. Excluded addresses (network, broadcast, TEP
 * addresses, an operator list) simply have no index. `Ipv4Pool` from `lib/addr` is the
 * implementation to use (a CIDR block minus exclusions); any object of this shape works.
 *
 * @module
 */

import type { Ipv4Pool } from "../addr/mod.ts";

/** A dense, ordered view of an IPv4 pool: index `i` in `[0, size)` ↔ an IPv4 address (uint32). */
export interface PoolSpace {
  /** Number of allocatable addresses. */
  readonly size: number;
  /** The IPv4 address (uint32) at pool index `i`; `i` must be an integer in `[0, size)`. */
  addressAt(i: number): number;
  /** The pool index of `addr` (uint32), or -1 when `addr` is not an allocatable pool address. */
  indexOf(addr: number): number;
}

/** Largest pool the allocator supports (pool indices must fit an Int32Array). */
export const MAX_POOL_SIZE = 0x7fff_ffff;

// Compile-time check: lib/addr's pool is a PoolSpace.
const _ipv4PoolIsAPoolSpace = (p: Ipv4Pool): PoolSpace => p;
void _ipv4PoolIsAPoolSpace;
