/**
 * Batched packet I/O on one nonblocking packet fd (a TUN queue): read a burst of packets into
 * fixed slots and write replies out of those slots, with one `io_uring_enter(2)` per burst (the
 * writes of the previous burst and the reads of the next share it) instead of a `read(2)` and a
 * `write(2)` per packet. Where io_uring is missing or refused, the same calls fall back to plain
 * `read(2)` / `write(2)`, packet by packet.
 *
 * Slots live in one `mmap` region ({@link BatchIo.memory}), in two halves used in turn: a burst is
 * read into one half while the writes queued from the other half go out in the same submission,
 * so a slot is never refilled while a write from it could still be in flight. A write from any
 * other buffer (or beyond {@link BatchIo.memory}) is carried out at once, after the queued ones
 * (packet order on the fd is kept).
 *
 * ```ts
 * const io = BatchIo.open(c, { fd, batch: 64, headroom: 48, maxPacket: 65535 });
 * const n = io.read(64);                       // also sends what was queued before
 * for (let i = 0; i < n; i++) handle(io.memory, io.offset(i), io.length(i)); // may call io.write
 * io.flush();                                  // send the rest before sleeping in poll(2)
 * ```
 *
 * A queued write that fails is counted ({@link BatchIo.writesFailed},
 * {@link BatchIo.writeFailedBytes}): with io_uring its result is only known once its burst went.
 *
 * @module
 */
import { Errno } from "./errno.ts";
import { IORING, IoUring } from "./io_uring.ts";
import type { Libc } from "./libc.ts";
import { SysError } from "./sys_error.ts";

/** Options of {@link BatchIo.open}. */
export interface BatchIoOptions {
  /** The nonblocking packet fd (TUN). */
  readonly fd: number;
  /** Most packets per burst (1..256, default 64). */
  readonly batch?: number;
  /** Bytes kept free before each packet read (in-place encapsulation), default 0. */
  readonly headroom?: number;
  /** Largest packet read, bytes (default 65535). */
  readonly maxPacket?: number;
  /** Use io_uring when the kernel allows it (default true). */
  readonly ioUring?: boolean;
  /** With io_uring, register the slots as a fixed buffer when allowed (default true). */
  readonly fixedBuffers?: boolean;
  /**
   * With io_uring, register the fd as the ring's fixed file when allowed (default true). The ring
   * then holds a reference to the file until it is torn down, which the kernel finishes after
   * the ring's fd was closed: a TUN whose device must disappear as soon as its owner closes it
   * should not be registered.
   */
  readonly fixedFiles?: boolean;
  /**
   * Map the slots with `mmap` even without io_uring, so {@link BatchIo.address} is always known
   * (for other calls that take addresses, e.g. `sendmmsg`); default false.
   */
  readonly mapped?: boolean;
}

const PROT_READ_WRITE = 0x3;
const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
const WRITE_TAG = 0x8000_0000;

/** How the ring issues requests on the fd, as {@link BatchIo.open} found it works. */
interface RingSetup {
  readonly ring: IoUring;
  readonly map: { address: number; length: number };
  /** The fd as the ring names it: index 0 of its registered files, or the fd itself. */
  readonly ringFd: number;
  readonly sqeFlags: number;
  readonly opRead: number;
  readonly opWrite: number;
  /**
   * RWF_NOWAIT where the fd supports it: without it, io_uring would wait for a packet (or for
   * room) on an fd that can be polled, O_NONBLOCK or not. Files that do not support it fail
   * nonblocking requests with EAGAIN already.
   */
  readonly rwFlags: number;
  readonly fixedBuffers: boolean;
}

/** Batched packet reads and writes on one fd; see the module documentation. */
export class BatchIo {
  /** Every slot: packets are read into it at {@link offset}. */
  readonly memory: Uint8Array;
  /** Most packets per burst. */
  readonly batch: number;
  /** Read or enter system calls made so far. */
  calls = 0;
  /**
   * Queued writes that failed, counted when their burst completed (a write made at once reports
   * its failure by its return value instead).
   */
  writesFailed = 0;
  /** Bytes of {@link writesFailed}. */
  writeFailedBytes = 0;
  /** errno of the last failed write (queued or not). */
  lastWriteErrno = 0;
  /** Reads that failed with something other than EAGAIN. */
  readErrors = 0;
  /** Why io_uring is not (or no longer) used, or undefined. */
  ioUringError: string | undefined;

  readonly #c: Libc;
  readonly #fd: number;
  #setup: RingSetup | undefined;
  readonly #map: { address: number; length: number } | undefined;
  readonly #slotBytes: number;
  readonly #headroom: number;
  readonly #maxPacket: number;
  readonly #slotViews: Uint8Array[];
  readonly #offsets: Int32Array;
  readonly #lengths: Int32Array;
  readonly #writeLens: Int32Array;
  readonly #views = new Map<Uint8Array, (Uint8Array | undefined)[]>();
  #half = 1;
  #count = 0;
  #queuedWrites = 0;
  #closed = false;

  private constructor(
    c: Libc,
    o: BatchIoOptions,
    batch: number,
    slotBytes: number,
    memory: Uint8Array,
    map: { address: number; length: number } | undefined,
    setup: RingSetup | undefined,
    ringError: string | undefined,
  ) {
    this.#c = c;
    this.#fd = o.fd;
    this.batch = batch;
    this.#slotBytes = slotBytes;
    this.#headroom = o.headroom ?? 0;
    this.#maxPacket = o.maxPacket ?? 65535;
    this.memory = memory;
    this.#map = map;
    this.#setup = setup;
    this.ioUringError = ringError;
    this.#slotViews = [];
    for (let i = 0; i < 2 * batch; i++) {
      this.#slotViews.push(memory.subarray(i * slotBytes + this.#headroom, (i + 1) * slotBytes));
    }
    this.#offsets = new Int32Array(batch);
    this.#lengths = new Int32Array(batch);
    this.#writeLens = new Int32Array(2 * batch);
  }

  /** True while bursts go through io_uring; false: one syscall per packet. */
  get usingIoUring(): boolean {
    return this.#setup !== undefined;
  }

  /**
   * Address of {@link memory} when it is an `mmap` mapping (with io_uring, or with the
   * {@link BatchIoOptions.mapped} option), else undefined. The memory never moves.
   */
  get address(): number | undefined {
    return this.#map?.address;
  }

  /** True when the slots are the ring's registered buffer 0 (no per-copy user-memory checks). */
  get fixedBuffers(): boolean {
    return this.#setup?.fixedBuffers ?? false;
  }

  /**
   * Batched I/O on `o.fd`. Falls back to plain reads and writes if io_uring cannot be set up or
   * does not work on this fd (see {@link usingIoUring}, {@link ioUringError}); throws
   * {@link SysError} only if the slot memory cannot be mapped.
   */
  static open(c: Libc, o: BatchIoOptions): BatchIo {
    const batch = o.batch ?? 64;
    if (!Number.isInteger(batch) || batch < 1 || batch > 256) {
      throw new RangeError(`Cannot open batch I/O: batch ${batch} not in 1..256`);
    }
    const headroom = o.headroom ?? 0;
    const maxPacket = o.maxPacket ?? 65535;
    const slotBytes = Math.ceil((headroom + maxPacket + 1) / 64) * 64;
    const length = 2 * batch * slotBytes;
    const plain = (why: string | undefined) => {
      if (!o.mapped) {
        return new BatchIo(
          c,
          o,
          batch,
          slotBytes,
          new Uint8Array(length),
          undefined,
          undefined,
          why,
        );
      }
      const m = c.mmap(length, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0);
      if (m === null) throw new SysError("mmap packet slots", c.errno());
      const map = { address: m.address, length };
      return new BatchIo(c, o, batch, slotBytes, new Uint8Array(m.buffer), map, undefined, why);
    };
    if (!(o.ioUring ?? true)) return plain("off");
    let ring: IoUring;
    try {
      // Room for a burst of reads plus a burst of writes.
      ring = IoUring.open(c, pow2(2 * batch));
    } catch (e) {
      return plain(e instanceof SysError ? e.message : String(e));
    }
    const m = c.mmap(length, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0);
    if (m === null) {
      const e = c.errno();
      ring.close();
      throw new SysError("mmap packet slots", e);
    }
    const map = { address: m.address, length };
    const setup = probeSetup(ring, o.fd, map, o.fixedBuffers ?? true, o.fixedFiles ?? true);
    if (typeof setup === "string") {
      ring.close();
      c.munmap(map.address, map.length);
      return plain(setup);
    }
    return new BatchIo(c, o, batch, slotBytes, new Uint8Array(m.buffer), map, setup, undefined);
  }

  /** Offset in {@link memory} of the `i`-th packet of the last {@link read}. */
  offset(i: number): number {
    return this.#offsets[i];
  }

  /** Length of the `i`-th packet of the last {@link read}. */
  length(i: number): number {
    return this.#lengths[i];
  }

  /** Packets of the last {@link read}. */
  get count(): number {
    return this.#count;
  }

  /** Writes queued and not sent yet. */
  get queuedWrites(): number {
    return this.#queuedWrites;
  }

  /**
   * Send the queued writes and read up to `max` (<= {@link batch}) packets waiting on the fd;
   * returns how many (0: none waiting). Packet `i` is at {@link offset}(i), {@link length}(i).
   * Throws {@link SysError} if the fd or the ring fails (not on EAGAIN).
   */
  read(max: number): number {
    const want = max < this.batch ? max : this.batch;
    this.#half ^= 1;
    const first = this.#half * this.batch;
    const setup = this.#setup;
    let n = 0;
    if (setup === undefined) {
      const c = this.#c;
      for (; n < want; n++) {
        const r = c.read(this.#fd, this.#slotViews[first + n], this.#maxPacket);
        this.calls++;
        if (r <= 0) {
          if (r < 0 && c.errno() !== Errno.EAGAIN) this.readErrors++;
          break;
        }
        this.#offsets[n] = (first + n) * this.#slotBytes + this.#headroom;
        this.#lengths[n] = r;
      }
      this.#count = n;
      return n;
    }
    const ring = setup.ring;
    const base = setup.map.address + this.#headroom;
    for (let i = 0; i < want; i++) {
      ring.prep(
        setup.opRead,
        setup.ringFd,
        base + (first + i) * this.#slotBytes,
        this.#maxPacket,
        first + i,
        setup.rwFlags,
        setup.sqeFlags,
      );
    }
    this.#enter(ring);
    const ready = ring.ready;
    let broken = 0;
    for (let i = 0; i < ready; i++) {
      const ud = ring.userData(i);
      const res = ring.result(i);
      if ((ud & WRITE_TAG) !== 0) {
        if (res < 0) this.#writeFailed(-res, this.#writeLens[ud & 0xffff]);
        continue;
      }
      if (res > 0) {
        this.#offsets[n] = ud * this.#slotBytes + this.#headroom;
        this.#lengths[n] = res;
        n++;
      } else if (res !== -Errno.EAGAIN && res !== 0) {
        this.readErrors++;
        broken = -res;
      }
    }
    ring.consume(ready);
    this.#queuedWrites = 0;
    this.#count = n;
    // A read the ring cannot do (a kernel that refuses a request kind on this fd): go on with
    // plain syscalls rather than lose every packet. Nothing is in flight after a burst.
    if (broken !== 0) this.#dropRing(`read failed with errno ${broken}`);
    return n;
  }

  /**
   * Write the `len` bytes of `buf` from `off` as one packet. From {@link memory}, the write is
   * queued (sent by the next {@link read} or {@link flush}); from any other buffer it is made now,
   * after the queued ones. Returns false only for a write that failed now; a queued write that
   * fails is counted in {@link writesFailed}.
   */
  write(buf: Uint8Array, off: number, len: number): boolean {
    const setup = this.#setup;
    if (setup !== undefined && buf === this.memory) {
      if (this.#queuedWrites >= this.batch) this.flush();
      const k = this.#queuedWrites++;
      this.#writeLens[k] = len;
      setup.ring.prep(
        setup.opWrite,
        setup.ringFd,
        setup.map.address + off,
        len,
        (WRITE_TAG | k) >>> 0,
        setup.rwFlags,
        setup.sqeFlags,
      );
      return true;
    }
    if (this.#queuedWrites > 0) this.flush();
    const c = this.#c;
    const r = c.write(this.#fd, this.#view(buf, off), len);
    if (r === len) return true;
    this.lastWriteErrno = r < 0 ? c.errno() : Errno.EIO;
    return false;
  }

  /** Send the queued writes now. Returns how many were sent. */
  flush(): number {
    const n = this.#queuedWrites;
    if (this.#setup === undefined || n === 0) return 0;
    const ring = this.#setup.ring;
    this.#enter(ring);
    const ready = ring.ready;
    for (let i = 0; i < ready; i++) {
      const ud = ring.userData(i);
      const res = ring.result(i);
      if ((ud & WRITE_TAG) !== 0 && res < 0) this.#writeFailed(-res, this.#writeLens[ud & 0xffff]);
    }
    ring.consume(ready);
    this.#queuedWrites = 0;
    return n;
  }

  /** Release the ring and the slots (idempotent). Do not use {@link memory} afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#setup?.ring.close();
    if (this.#map) this.#c.munmap(this.#map.address, this.#map.length);
  }

  #dropRing(why: string): void {
    this.#setup?.ring.close();
    this.#setup = undefined;
    this.ioUringError = why;
  }

  #enter(ring: IoUring): void {
    for (;;) {
      const r = ring.submitAndWait();
      this.calls++;
      if (r >= 0) {
        if (ring.queued === 0) return;
        continue;
      }
      if (r === -Errno.EINTR) continue;
      throw new SysError("io_uring_enter", -r);
    }
  }

  #writeFailed(errno: number, len: number): void {
    this.writesFailed++;
    this.writeFailedBytes += len;
    this.lastWriteErrno = errno;
  }

  /** `buf.subarray(off)`, made once per (buffer, offset) and kept (no allocation per packet). */
  #view(buf: Uint8Array, off: number): Uint8Array {
    if (off === 0) return buf;
    let views = this.#views.get(buf);
    if (views === undefined) {
      views = [];
      this.#views.set(buf, views);
    }
    let v = views[off];
    if (v === undefined) {
      v = buf.subarray(off);
      views[off] = v;
    }
    return v;
  }
}

/** One zero-length read through the ring: 0 or -EAGAIN when the request kind works on `fd`. */
function probeRead(
  ring: IoUring,
  op: number,
  fd: number,
  address: number,
  rwFlags: number,
  sqeFlags: number,
): number {
  ring.prep(op, fd, address, 0, 0, rwFlags, sqeFlags);
  let r: number;
  do r = ring.submitAndWait(); while (r === -Errno.EINTR);
  if (r < 0) return r;
  const res = ring.ready > 0 ? ring.result(0) : 0;
  ring.consume(ring.ready);
  return res;
}

/**
 * Find how the ring can read `fd`: registered file and buffer if allowed (RLIMIT_MEMLOCK may
 * refuse the buffer), RWF_NOWAIT if the fd takes it; a zero-length read of each kind tells
 * without taking a packet. Returns the setup, or why io_uring cannot be used.
 */
function probeSetup(
  ring: IoUring,
  fd: number,
  map: { address: number; length: number },
  wantFixed: boolean,
  wantFiles: boolean,
): RingSetup | string {
  const files = wantFiles && ring.registerFiles([fd]) === 0;
  const buffers = wantFixed && ring.registerBuffer(map.address, map.length) === 0;
  const tries: [boolean, boolean][] = [[files, buffers], [false, false]];
  let last = 0;
  for (const [f, b] of tries) {
    const ringFd = f ? 0 : fd;
    const sqeFlags = f ? IORING.IOSQE_FIXED_FILE : 0;
    const opRead = b ? IORING.OP_READ_FIXED : IORING.OP_READ;
    for (const rwFlags of [IORING.RWF_NOWAIT, 0]) {
      last = probeRead(ring, opRead, ringFd, map.address, rwFlags, sqeFlags);
      if (last === 0 || last === -Errno.EAGAIN) {
        return {
          ring,
          map,
          ringFd,
          sqeFlags,
          opRead,
          opWrite: b ? IORING.OP_WRITE_FIXED : IORING.OP_WRITE,
          rwFlags,
          fixedBuffers: b,
        };
      }
      if (last !== -Errno.EOPNOTSUPP) break; // only a refused RWF_NOWAIT is worth a retry
    }
  }
  return `io_uring read refused (errno ${-last})`;
}

function pow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}
