/**
 * Batched datagram I/O on one nonblocking socket with an IPv6 peer address per datagram (a raw
 * IPv6 socket): a burst of sends in one `sendmmsg(2)` and a burst of receives in one
 * `recvmmsg(2)`, instead of a `sendto(2)` / `recvfrom(2)` per packet. The packets themselves
 * live in memory the caller maps (e.g. {@link BatchIo.memory} with its `address`), so a packet
 * read from a TUN is sent from where it was read and a packet received is written to the TUN
 * from where it landed: no copy in user space.
 *
 * The `struct mmsghdr`s, `iovec`s and `sockaddr_in6`s live in one `mmap` of this class (the
 * kernel follows their pointers). Where `sendmmsg`/`recvmmsg` are refused (ENOSYS: an old kernel,
 * a seccomp filter) or the host is not a 64-bit little-endian one, the same calls fall back to one
 * `sendto`/`recvfrom` per packet.
 *
 * ```ts
 * const m = MmsgBatch.open(c, { fd, batch: 64, memory, address, rxOffset: 0, rxStride: 65600, rxBytes: 65536 });
 * m.queueSend(off, len, tep6, 0);          // a packet at memory[off]
 * const failed = m.flushSends();           // one sendmmsg for the burst
 * const n = m.recv(64);                    // packet i at memory[m.rxOffset(i)], m.length(i) bytes,
 *                                          // from m.names[m.fromOffset(i) .. + 16]
 * ```
 *
 * No allocation per packet.
 *
 * @module
 */
import { Errno } from "./errno.ts";
import type { Libc } from "./libc.ts";
import { HOST_LE, LINUX } from "./linux_constants.ts";
import { SysError } from "./sys_error.ts";

/** sizeof(struct mmsghdr) on LP64: struct msghdr (56) + msg_len + padding. */
export const MMSGHDR_LEN = 64;
const IOVEC_LEN = 16;
/** sockaddr_in6 (28 bytes) rounded up to 8. */
const NAME_LEN = 32;
const SOCKADDR_IN6_LEN = 28;
/** Bytes of one slot: its mmsghdr, iovec and sockaddr. */
const SLOT_LEN = MMSGHDR_LEN + IOVEC_LEN + NAME_LEN;
const PROT_READ_WRITE = 0x3;
const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
const TWO32 = 0x1_0000_0000;
/**
 * The layout above is LP64 little-endian (x86-64, arm64: every host Deno and Bun run on);
 * anything else takes the per-packet fallback.
 */
const LP64_LE = HOST_LE;

/** Options of {@link MmsgBatch.open}. */
export interface MmsgBatchOptions {
  /** The nonblocking datagram socket (AF_INET6). */
  readonly fd: number;
  /** Most packets per burst, each way (1..1024). */
  readonly batch: number;
  /** The packet memory: every packet sent lies in it (and, by default, lands in it). */
  readonly memory: Uint8Array;
  /** Address of {@link memory} (an `mmap` mapping: it never moves). */
  readonly address: number;
  /** Where packets received land, if not in {@link memory}. */
  readonly rxMemory?: Uint8Array;
  /** Address of {@link rxMemory} (required with it). */
  readonly rxAddress?: number;
  /** Offset in the receive memory of receive slot 0. */
  readonly rxOffset: number;
  /** Distance between receive slots, bytes. */
  readonly rxStride: number;
  /** Size of a receive slot, bytes (a longer datagram is truncated). */
  readonly rxBytes: number;
  /** Destination port of every send (UDP); default 0 (raw sockets have none). */
  readonly port?: number;
  /** Use sendmmsg/recvmmsg when the kernel allows (default true). */
  readonly mmsg?: boolean;
}

/** Batched sends and receives on one socket; see the module documentation. */
export class MmsgBatch {
  /** Most packets per burst. */
  readonly batch: number;
  /**
   * The sockaddr_in6 of every slot: the source of received packet `i` is
   * `names[fromOffset(i) .. + 16]`.
   */
  readonly names: Uint8Array;
  /** sendmmsg/recvmmsg/sendto/recvfrom calls made so far. */
  calls = 0;
  /** errno of the last failed send. */
  lastSendErrno = 0;
  /** Receives that failed with something other than EAGAIN. */
  recvErrors = 0;
  /** Why the per-packet fallback is used, or undefined. */
  mmsgError: string | undefined;

  readonly #c: Libc;
  readonly #fd: number;
  readonly #memory: Uint8Array;
  readonly #address: number;
  readonly #map: { address: number; length: number };
  /** Send slots [0, batch), receive slots [batch, 2 batch). */
  readonly #hdr: Uint8Array;
  readonly #u32: Uint32Array;
  /** `#hdr` from slot i's mmsghdr on, for calls that start at slot i. */
  readonly #vec: Uint8Array[];
  /** Per slot: its sockaddr's address bytes (a view into {@link names}). */
  readonly #dst: Uint8Array[];
  /** Per slot: the whole sockaddr_in6. */
  readonly #sockaddr: Uint8Array[];
  readonly #rxOffset: number;
  readonly #rxStride: number;
  readonly #rxBytes: number;
  readonly #rxViews: Uint8Array[];
  readonly #lengths: Int32Array;
  readonly #rxLen = new Uint8Array(4);
  readonly #rxLenView = new DataView(this.#rxLen.buffer);
  readonly #txOff: Int32Array;
  readonly #txLen: Int32Array;
  readonly #views = new Map<number, Uint8Array>();
  #mmsg: boolean;
  #sendWorked = false;
  #queued = 0;
  #count = 0;
  #closed = false;

  private constructor(
    c: Libc,
    o: MmsgBatchOptions,
    map: { buffer: ArrayBuffer; address: number; length: number },
    why: string | undefined,
  ) {
    this.#c = c;
    this.#fd = o.fd;
    this.batch = o.batch;
    this.#memory = o.memory;
    this.#address = o.address;
    this.#map = { address: map.address, length: map.length };
    this.#hdr = new Uint8Array(map.buffer, 0, map.length);
    this.#u32 = new Uint32Array(map.buffer, 0, map.length >> 2);
    this.#mmsg = why === undefined;
    this.mmsgError = why;
    this.#rxOffset = o.rxOffset;
    this.#rxStride = o.rxStride;
    this.#rxBytes = o.rxBytes;
    const slots = 2 * o.batch;
    const namesAt = slots * (MMSGHDR_LEN + IOVEC_LEN);
    this.names = this.#hdr.subarray(namesAt, namesAt + slots * NAME_LEN);
    this.#vec = [];
    this.#dst = [];
    this.#sockaddr = [];
    this.#rxViews = [];
    const dv = new DataView(map.buffer, 0, map.length);
    for (let i = 0; i < slots; i++) {
      this.#vec.push(this.#hdr.subarray(i * MMSGHDR_LEN));
      const name = namesAt + i * NAME_LEN;
      dv.setUint16(name, LINUX.AF_INET6, true);
      if (i < o.batch) dv.setUint16(name + 2, o.port ?? 0, false);
      this.#sockaddr.push(this.#hdr.subarray(name, name + SOCKADDR_IN6_LEN));
      this.#dst.push(this.#hdr.subarray(name + 8, name + 24));
      const iov = slots * MMSGHDR_LEN + i * IOVEC_LEN;
      const h = i * MMSGHDR_LEN;
      this.#put64(h, map.address + name); // msg_name
      dv.setUint32(h + 8, SOCKADDR_IN6_LEN, true); // msg_namelen
      this.#put64(h + 16, map.address + iov); // msg_iov
      this.#put64(h + 24, 1); // msg_iovlen
      // msg_control NULL, msg_controllen 0, msg_flags 0, msg_len 0: the mapping is zeroed.
      if (i >= o.batch) {
        const k = i - o.batch;
        const at = o.rxOffset + k * o.rxStride;
        this.#put64(iov, (o.rxAddress ?? o.address) + at);
        this.#put64(iov + 8, o.rxBytes);
        this.#rxViews.push((o.rxMemory ?? o.memory).subarray(at, at + o.rxBytes));
      }
    }
    this.#lengths = new Int32Array(o.batch);
    this.#txOff = new Int32Array(o.batch);
    this.#txLen = new Int32Array(o.batch);
  }

  /**
   * Batched I/O on `o.fd` over `o.memory`. Throws `RangeError` for bad options and
   * {@link SysError} if the header memory cannot be mapped.
   */
  static open(c: Libc, o: MmsgBatchOptions): MmsgBatch {
    const { batch } = o;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024) {
      throw new RangeError(`Cannot open batched socket I/O: batch ${batch} not in 1..1024`);
    }
    const rxMemory = o.rxMemory ?? o.memory;
    if ((o.rxMemory === undefined) !== (o.rxAddress === undefined)) {
      throw new TypeError("Cannot open batched socket I/O: rxMemory needs rxAddress");
    }
    if (
      o.rxOffset < 0 || o.rxBytes < 1 || o.rxStride < o.rxBytes ||
      o.rxOffset + (batch - 1) * o.rxStride + o.rxBytes > rxMemory.byteLength
    ) {
      throw new RangeError(
        `Cannot open batched socket I/O: ${batch} receive slots of ${o.rxBytes} bytes every ${o.rxStride} from ${o.rxOffset} do not fit ${rxMemory.byteLength} bytes`,
      );
    }
    const length = Math.ceil((2 * batch * SLOT_LEN) / 4096) * 4096;
    const m = c.mmap(length, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0);
    if (m === null) throw new SysError("mmap message headers", c.errno());
    const why = !(o.mmsg ?? true) ? "off" : LP64_LE ? undefined : "not a 64-bit little-endian host";
    return new MmsgBatch(c, o, { ...m, length }, why);
  }

  /** True while bursts go through sendmmsg/recvmmsg; false: one call per packet. */
  get usingMmsg(): boolean {
    return this.#mmsg;
  }

  /** Sends queued and not made yet. */
  get queued(): number {
    return this.#queued;
  }

  /** Packets of the last {@link recv}. */
  get count(): number {
    return this.#count;
  }

  /**
   * Queue a send of `memory[off .. off + len]` to the IPv6 address `to[toOff .. toOff + 16]`.
   * Returns false (nothing queued) when {@link batch} sends are queued already: flush first.
   */
  queueSend(off: number, len: number, to: Uint8Array, toOff: number): boolean {
    const k = this.#queued;
    if (k >= this.batch) return false;
    const d = this.#dst[k];
    for (let i = 0; i < 16; i++) d[i] = to[toOff + i];
    if (this.#mmsg) {
      const iov = 2 * this.batch * MMSGHDR_LEN + k * IOVEC_LEN;
      this.#put64(iov, this.#address + off);
      this.#put64(iov + 8, len);
    }
    this.#txOff[k] = off;
    this.#txLen[k] = len;
    this.#queued = k + 1;
    return true;
  }

  /** Make the queued sends, in order. Returns how many failed ({@link lastSendErrno}: why). */
  flushSends(): number {
    const n = this.#queued;
    if (n === 0) return 0;
    this.#queued = 0;
    let failed = 0;
    let i = 0;
    const c = this.#c;
    while (i < n && this.#mmsg) {
      const r = c.sendmmsg(this.#fd, this.#vec[i], n - i, 0);
      this.calls++;
      if (r > 0) {
        i += r;
        this.#sendWorked = true;
        continue;
      }
      const e = r < 0 ? c.errno() : Errno.EIO;
      if (e === Errno.EINTR) continue;
      if (i === 0 && e === Errno.ENOSYS && !this.#sendWorked) {
        // Refused outright on the first call: per packet from now on.
        this.#mmsg = false;
        this.mmsgError = `sendmmsg refused (errno ${e})`;
        break;
      }
      // The kernel stopped at message i: it is lost, as a failed sendto would be.
      this.lastSendErrno = e;
      failed++;
      i++;
    }
    for (; i < n; i++) {
      const r = c.sendto(
        this.#fd,
        this.#view(this.#txOff[i]),
        this.#txLen[i],
        0,
        this.#sockaddr[i],
        SOCKADDR_IN6_LEN,
      );
      this.calls++;
      if (r < 0) {
        this.lastSendErrno = c.errno();
        failed++;
      }
    }
    return failed;
  }

  /**
   * Receive up to `max` (<= {@link batch}) datagrams waiting on the socket: how many (0: none).
   * Datagram `i` is at {@link rxOffset}(i) in the receive memory, {@link length}(i) bytes (at most
   * the slot size), from `names[fromOffset(i) .. + 16]`.
   */
  recv(max: number): number {
    const want = max < this.batch ? max : this.batch;
    const c = this.#c;
    const b = this.batch;
    let n = 0;
    if (this.#mmsg) {
      const u32 = this.#u32;
      for (let i = 0; i < want; i++) u32[((b + i) * MMSGHDR_LEN + 8) >> 2] = SOCKADDR_IN6_LEN;
      let r: number;
      do {
        r = c.recvmmsg(this.#fd, this.#vec[b], want, LINUX.MSG_DONTWAIT);
        this.calls++;
      } while (r < 0 && c.errno() === Errno.EINTR);
      if (r >= 0) {
        for (let i = 0; i < r; i++) {
          this.#lengths[i] = u32[((b + i) * MMSGHDR_LEN + 56) >> 2];
        }
        this.#count = r;
        return r;
      }
      const e = c.errno();
      if (e !== Errno.ENOSYS) {
        if (e !== Errno.EAGAIN) this.recvErrors++;
        this.#count = 0;
        return 0;
      }
      this.#mmsg = false;
      this.mmsgError = `recvmmsg refused (errno ${e})`;
    }
    for (; n < want; n++) {
      this.#rxLenView.setUint32(0, SOCKADDR_IN6_LEN, HOST_LE);
      const r = c.recvfrom(
        this.#fd,
        this.#rxViews[n],
        this.#rxBytes,
        LINUX.MSG_DONTWAIT,
        this.#sockaddr[b + n],
        this.#rxLen,
      );
      this.calls++;
      if (r < 0) {
        const e = c.errno();
        if (e === Errno.EINTR) {
          n--;
          continue;
        }
        if (e !== Errno.EAGAIN) this.recvErrors++;
        break;
      }
      this.#lengths[n] = r;
    }
    this.#count = n;
    return n;
  }

  /** Offset in the packet memory of received datagram `i`. */
  rxOffset(i: number): number {
    return this.#rxOffset + i * this.#rxStride;
  }

  /** Length of received datagram `i` (the slot size if it was truncated). */
  length(i: number): number {
    return this.#lengths[i];
  }

  /** Offset in {@link names} of the source address of received datagram `i`. */
  fromOffset(i: number): number {
    return (this.batch + i) * NAME_LEN + 8;
  }

  /** Release the header memory (idempotent); the socket and the packet memory stay. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#c.munmap(this.#map.address, this.#map.length);
  }

  #put64(at: number, v: number): void {
    const u = this.#u32;
    u[at >> 2] = v >>> 0;
    u[(at >> 2) + 1] = Math.floor(v / TWO32);
  }

  /** `memory.subarray(off)`, made once per offset and kept (no allocation per packet). */
  #view(off: number): Uint8Array {
    let v = this.#views.get(off);
    if (v === undefined) {
      v = this.#memory.subarray(off);
      this.#views.set(off, v);
    }
    return v;
  }
}
