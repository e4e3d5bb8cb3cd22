/**
 * The client's set of domain TEPs, as its data plane applies it to every tunnel packet and every
 * tunnel ICMPv6 error (protocol.md §1.3 consequences, §6 row 7).
 *
 * With `--tep-prefix` given, the set is exactly those prefixes plus each TEP address the server
 * has named (the behaviour of {@link TepSourceFilter}). With none given, the set is **the /64 of
 * each TEP address the server has named**: in a multi-TEP domain return traffic comes through
 * TEPs the server never named to this client (BR2 in the draft's flow), and TEP tunnel addresses
 * are normally numbered from one block, so the block of a named TEP stands for its siblings. A
 * domain whose TEPs are spread over several /64s must configure `--tep-prefix`.
 *
 * A local adapter over `lib/client`'s filter: the data plane calls {@link accepts} and
 * {@link addTep}, which stay allocation-free.
 *
 * @module
 */
import { type Cidr6, formatCidr6, makeCidr6 } from "../lib/addr/mod.ts";
import { type SourceFilterOptions, TepSourceFilter } from "../lib/client/mod.ts";

/** Prefix length of the blocks learned from server-named TEPs when no prefix is configured. */
export const LEARNED_TEP_PREFIX = 64;

/** A {@link TepSourceFilter} that, without configured prefixes, accepts the /64 of named TEPs. */
export class DomainTepFilter extends TepSourceFilter {
  readonly #learnBlocks: boolean;
  readonly #blocks: Uint8Array;
  readonly #maxBlocks: number;
  #blockCount = 0;
  #oldest = 0;

  /** A filter over `options.prefixes`; with none, named TEPs also admit their /64. */
  constructor(options: SourceFilterOptions = {}) {
    super(options);
    this.#learnBlocks = (options.prefixes ?? []).length === 0;
    this.#maxBlocks = options.maxLearnedTeps ?? 64;
    this.#blocks = new Uint8Array(8 * this.#maxBlocks);
  }

  /** True when the /64 of named TEPs is accepted (no prefix configured). */
  get learnsBlocks(): boolean {
    return this.#learnBlocks;
  }

  #findBlock(buf: Uint8Array, off: number): number {
    const b = this.#blocks;
    outer: for (let i = 0; i < this.#blockCount; i++) {
      const base = i * 8;
      for (let j = 0; j < 8; j++) if (b[base + j] !== buf[off + j]) continue outer;
      return i;
    }
    return -1;
  }

  /** Remember a server-named TEP (and, without configured prefixes, its /64). */
  override addTep(ipv6: Uint8Array, off = 0): boolean {
    const added = super.addTep(ipv6, off);
    if (this.#learnBlocks && this.#findBlock(ipv6, off) < 0) {
      let slot: number;
      if (this.#blockCount < this.#maxBlocks) slot = this.#blockCount++;
      else {
        slot = this.#oldest;
        this.#oldest = (this.#oldest + 1) % this.#maxBlocks;
      }
      this.#blocks.set(ipv6.subarray(off, off + 8), slot * 8);
    }
    return added;
  }

  /** True if the IPv6 source at `buf[off..]` is a domain TEP. No allocation. */
  override accepts(buf: Uint8Array, off: number): boolean {
    if (super.accepts(buf, off)) return true;
    return this.#learnBlocks && this.#findBlock(buf, off) >= 0;
  }

  /** The blocks learned from named TEPs (for `ctl status`). */
  learnedBlocks(): Cidr6[] {
    const out: Cidr6[] = [];
    for (let i = 0; i < this.#blockCount; i++) {
      const a = new Uint8Array(16);
      a.set(this.#blocks.subarray(i * 8, i * 8 + 8));
      out.push(makeCidr6(a, LEARNED_TEP_PREFIX));
    }
    return out;
  }

  /** Every accepted block and address as text, for `ctl status`. */
  describe(): string[] {
    return [
      ...this.prefixes().map(formatCidr6),
      ...this.learnedBlocks().map(formatCidr6),
    ];
  }
}
