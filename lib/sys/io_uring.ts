/**
 * A minimal io_uring (`linux/io_uring.h`) for batched reads and writes on packet fds: the
 * submission and completion rings mapped into JS memory, SQEs written as 32-bit words, one
 * `io_uring_enter(2)` to submit a batch and wait for all of it. No SQ polling thread, no
 * registered files or buffers, no allocation after {@link IoUring.open}.
 *
 * Buffers handed to the kernel are given by address: only memory that never moves may be used
 * (a {@link Libc.mmap} mapping, see `batch_io.ts`), and it must stay untouched until the request
 * completed. With `min_complete` equal to the number submitted, {@link IoUring.submitAndWait}
 * returns once every request completed, so the caller owns its buffers again.
 *
 * @module
 */
import { Errno } from "./errno.ts";
import type { Libc } from "./libc.ts";
import { HOST_LE } from "./linux_constants.ts";
import { SysError } from "./sys_error.ts";

/** io_uring constants (`linux/io_uring.h`). */
export const IORING = {
  OP_NOP: 0,
  OP_READ_FIXED: 4,
  OP_WRITE_FIXED: 5,
  OP_READ: 22,
  OP_WRITE: 23,
  OFF_SQ_RING: 0,
  OFF_CQ_RING: 0x8000000,
  OFF_SQES: 0x10000000,
  ENTER_GETEVENTS: 1,
  /** sqe flags: `fd` is an index into the registered files. */
  IOSQE_FIXED_FILE: 1,
  REGISTER_BUFFERS: 0,
  REGISTER_FILES: 2,
  /** `rw_flags`: fail with EAGAIN instead of waiting (linux/fs.h RWF_NOWAIT). */
  RWF_NOWAIT: 0x8,
  /** sizeof(struct io_uring_params) */
  PARAMS_LEN: 120,
  SQE_LEN: 64,
  CQE_LEN: 16,
} as const;

const PROT_READ_WRITE = 0x3;
const MAP_SHARED_POPULATE = 0x01 | 0x8000;
const TWO32 = 0x1_0000_0000;

/** A ring of `entries` submissions (and twice as many completions). */
export class IoUring {
  /** The ring fd. */
  readonly fd: number;
  /** Submission queue entries. */
  readonly entries: number;
  readonly #c: Libc;
  readonly #maps: { address: number; length: number }[];
  readonly #sq: Uint32Array;
  readonly #sqTail: number;
  readonly #sqMask: number;
  readonly #sqArray: number;
  readonly #sqes: Uint32Array;
  readonly #cq: Uint32Array;
  readonly #cqHead: number;
  readonly #cqTail: number;
  readonly #cqMask: number;
  readonly #cqes: Int32Array;
  readonly #cqeBase: number;
  #queued = 0;
  #closed = false;

  private constructor(
    c: Libc,
    fd: number,
    entries: number,
    params: DataView,
    maps: { buffer: ArrayBuffer; address: number; length: number }[],
  ) {
    this.#c = c;
    this.fd = fd;
    this.entries = entries;
    this.#maps = maps.map((m) => ({ address: m.address, length: m.length }));
    const u32 = (o: number) => params.getUint32(o, true);
    // struct io_sqring_offsets at 40, struct io_cqring_offsets at 80.
    this.#sq = new Uint32Array(maps[0].buffer);
    this.#sqTail = u32(44) / 4;
    this.#sqMask = this.#sq[u32(48) / 4];
    this.#sqArray = u32(64) / 4;
    this.#cq = new Uint32Array(maps[1].buffer);
    this.#cqHead = u32(80) / 4;
    this.#cqTail = u32(84) / 4;
    this.#cqMask = this.#cq[u32(88) / 4];
    this.#cqes = new Int32Array(maps[1].buffer);
    this.#cqeBase = u32(100) / 4;
    this.#sqes = new Uint32Array(maps[2].buffer);
  }

  /**
   * Set up a ring of `entries` (a power of two, 1..4096). Throws {@link SysError} when io_uring is
   * not available (ENOSYS, or EPERM where it is disabled) or the rings cannot be mapped.
   */
  static open(c: Libc, entries: number): IoUring {
    if (!Number.isInteger(entries) || entries < 1 || entries > 4096 || (entries & (entries - 1))) {
      throw new RangeError(`Cannot open io_uring: ${entries} entries is not a power of two`);
    }
    if (!HOST_LE) throw new SysError("io_uring_setup", Errno.ENOSYS, "big-endian host");
    const p = new Uint8Array(IORING.PARAMS_LEN);
    const fd = c.ioUringSetup(entries, p);
    if (fd < 0) throw new SysError("io_uring_setup", c.errno());
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    const sqEntries = v.getUint32(0, true);
    const cqEntries = v.getUint32(4, true);
    const sqLen = v.getUint32(40 + 24, true) + sqEntries * 4; // sq_off.array + entries * u32
    const cqLen = v.getUint32(80 + 20, true) + cqEntries * IORING.CQE_LEN; // cq_off.cqes + ...
    const maps: { buffer: ArrayBuffer; address: number; length: number }[] = [];
    const map = (length: number, offset: number) => {
      const m = c.mmap(length, PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, offset);
      if (m === null) {
        const e = c.errno();
        for (const x of maps) c.munmap(x.address, x.length);
        c.close(fd);
        throw new SysError("mmap io_uring", e);
      }
      maps.push({ ...m, length });
    };
    map(sqLen, IORING.OFF_SQ_RING);
    map(cqLen, IORING.OFF_CQ_RING);
    map(sqEntries * IORING.SQE_LEN, IORING.OFF_SQES);
    return new IoUring(c, fd, sqEntries, v, maps);
  }

  /**
   * Register `fds` as the ring's fixed files (saves looking the fd up for every request); a
   * request then names index `i` of `fds` with {@link IORING.IOSQE_FIXED_FILE}. Returns 0 or the
   * errno.
   */
  registerFiles(fds: readonly number[]): number {
    const arr = new Uint8Array(4 * fds.length);
    const v = new DataView(arr.buffer);
    fds.forEach((fd, i) => v.setInt32(4 * i, fd, true));
    return this.#c.ioUringRegister(this.fd, IORING.REGISTER_FILES, arr, fds.length) < 0
      ? this.#c.errno()
      : 0;
  }

  /**
   * Register the memory at `address` (`length` bytes, from an mmap) as fixed buffer 0: requests
   * {@link IORING.OP_READ_FIXED} / {@link IORING.OP_WRITE_FIXED} inside it skip the user-memory
   * checks of every copy. The pages are pinned (RLIMIT_MEMLOCK applies without CAP_IPC_LOCK).
   * Returns 0 or the errno.
   */
  registerBuffer(address: number, length: number): number {
    const iov = new Uint8Array(16);
    const v = new DataView(iov.buffer);
    v.setUint32(0, address >>> 0, true);
    v.setUint32(4, Math.floor(address / TWO32), true);
    v.setUint32(8, length >>> 0, true);
    v.setUint32(12, Math.floor(length / TWO32), true);
    return this.#c.ioUringRegister(this.fd, IORING.REGISTER_BUFFERS, iov, 1) < 0
      ? this.#c.errno()
      : 0;
  }

  /** Requests queued and not submitted yet. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Queue a request: `op` on `fd` with the buffer at `address` (from an mmap) of `len` bytes,
   * `rwFlags` (e.g. {@link IORING.RWF_NOWAIT}), tagged `userData` (0..2^32-1), with sqe `flags`
   * (e.g. {@link IORING.IOSQE_FIXED_FILE}). Returns false when the submission queue is full.
   */
  prep(
    op: number,
    fd: number,
    address: number,
    len: number,
    userData: number,
    rwFlags = 0,
    flags = 0,
  ): boolean {
    if (this.#queued >= this.entries) return false;
    const sq = this.#sq;
    const tail = sq[this.#sqTail];
    const idx = tail & this.#sqMask;
    const e = this.#sqes;
    const b = idx * 16;
    e[b] = op | (flags << 8); // opcode, flags, ioprio 0
    e[b + 1] = fd;
    e[b + 2] = 0; // off: 0 (streams ignore it)
    e[b + 3] = 0;
    e[b + 4] = address >>> 0;
    e[b + 5] = Math.floor(address / TWO32);
    e[b + 6] = len;
    e[b + 7] = rwFlags;
    e[b + 8] = userData >>> 0;
    e[b + 9] = 0;
    e[b + 10] = 0; // buf_index, personality
    e[b + 11] = 0;
    e[b + 12] = 0;
    e[b + 13] = 0;
    e[b + 14] = 0;
    e[b + 15] = 0;
    sq[this.#sqArray + idx] = idx;
    sq[this.#sqTail] = (tail + 1) >>> 0;
    this.#queued++;
    return true;
  }

  /**
   * Submit every queued request and wait until all of them completed. Returns the number
   * submitted, or `-errno` (EINTR: call again; nothing is lost, the requests stay queued).
   */
  submitAndWait(): number {
    const n = this.#queued;
    if (n === 0) return 0;
    const r = this.#c.ioUringEnter(this.fd, n, n, IORING.ENTER_GETEVENTS);
    if (r < 0) return -this.#c.errno();
    this.#queued -= r;
    return r;
  }

  /** Completions waiting to be read. */
  get ready(): number {
    const cq = this.#cq;
    return (cq[this.#cqTail] - cq[this.#cqHead]) >>> 0;
  }

  /** `user_data` (low 32 bits) of the `i`-th waiting completion. */
  userData(i: number): number {
    const at = ((this.#cq[this.#cqHead] + i) & this.#cqMask) * 4 + this.#cqeBase;
    return this.#cqes[at] >>> 0;
  }

  /** `res` of the `i`-th waiting completion (a byte count, or `-errno`). */
  result(i: number): number {
    const at = ((this.#cq[this.#cqHead] + i) & this.#cqMask) * 4 + this.#cqeBase;
    return this.#cqes[at + 2];
  }

  /** Mark `n` completions read. */
  consume(n: number): void {
    const cq = this.#cq;
    cq[this.#cqHead] = (cq[this.#cqHead] + n) >>> 0;
  }

  /** Unmap the rings and close the fd (idempotent). Requests in flight complete first. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.#maps) this.#c.munmap(m.address, m.length);
    this.#c.close(this.fd);
  }
}
