/**
 * The client's data-plane Worker: a blocking `poll(2)` loop over the TUN, the raw
 * IPv4-in-IPv6 socket, the control ring and the raw ICMPv6 error socket, each readable fd handed
 * to {@link DataplaneLoop} (`dataplane_loop.ts`, where the rules are carried out). The raw
 * sockets are opened here, bound to the registered IPv6 address: the kernel adds the IPv6 header
 * (source = that address, next header 4, the configured hop limit) to every send and fragments
 * when needed (protocol.md §4.1, §4.3), and hands over only packets addressed to it.
 *
 * The I/O goes in bursts ({@link openBatchedIo}): TUN reads through io_uring into mapped slots,
 * the tunnel sends of a burst in one `sendmmsg` straight from those slots, tunnel receives with
 * one `recvmmsg` into the slots of a second io_uring writer, whose TUN writes of a burst go out
 * in one `io_uring_enter`. With a TUN opened with a virtio header (`vnetHeader`), in-order TCP
 * segments received from the tunnel are joined into large segments before they are written
 * (`lib/client/tcp_coalescer.ts`): one packet, and one ACK, for up to 45. Each part falls back to
 * a call per packet where the kernel refuses the batched one.
 *
 * Started by `dataplane_host.ts` with one {@link DataplaneInit} message; answers `ready` (or
 * `error`), later `stopped`.
 *
 * @module
 */
import { parseCidr6, parseIpv6 } from "../lib/addr/mod.ts";
import { readVnetPacket, TcpCoalescer } from "../lib/client/mod.ts";
import {
  BatchIo,
  type Libc,
  libc,
  openIcmpv6ErrorSocket,
  openIpipSocket,
  type Raw6Socket,
  runPollLoop,
  StopSignal,
  SysError,
} from "../lib/sys/mod.ts";
import { MessageRing } from "../lib/sys/message_ring.ts";
import { MmsgBatch } from "../lib/sys/mmsg_batch.ts";
import { VNET } from "../lib/sys/tun_vnet.ts";
import { BURST, type DataplaneIo, DataplaneLoop } from "./dataplane_loop.ts";
import { counterBlock, IO_COUNTER_ID } from "./io_counters.ts";
import type { DataplaneInit, WorkerEvent } from "./ring_messages.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(data: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;

function post(e: WorkerEvent): void {
  scope.postMessage(e);
}

function errorEvent(e: unknown): WorkerEvent {
  if (e instanceof SysError) {
    return {
      kind: "error",
      message: e.message,
      op: e.op,
      errno: e.errno,
      ...(e.detail ? { detail: e.detail } : {}),
    };
  }
  return { kind: "error", message: e instanceof Error ? e.message : String(e) };
}

const NONE = new Uint8Array(16);

interface BatchedIo {
  readonly io: Omit<DataplaneIo, "recvIcmp" | "icmpFrom" | "popRing">;
  close(): void;
}

/**
 * The TUN and tunnel side of the Worker's I/O, in bursts: TUN reads into the slots of one
 * {@link BatchIo} (io_uring where allowed), the tunnel sends of a burst from those slots in one
 * `sendmmsg`; tunnel receives with one `recvmmsg` into the slots of a second {@link BatchIo},
 * whose queued TUN writes go out in one `io_uring_enter`. Each falls back to a call per packet
 * where the kernel refuses the batched one.
 */
function openBatchedIo(
  c: Libc,
  tun: number,
  ipip: Raw6Socket,
  vnet: boolean,
  counters: Float64Array,
): BatchedIo {
  // A virtio header before each packet read (and room for the largest IPv4 packet behind it).
  const maxRead = vnet ? 65535 + VNET.HDR_LEN : 65535;
  // The TUN is not registered with the rings: the device must go away as soon as the main
  // thread closes its fd on the way out, not once the kernel has torn the rings down.
  const rx = BatchIo.open(c, {
    fd: tun,
    batch: BURST,
    maxPacket: maxRead,
    mapped: true,
    fixedFiles: false,
  });
  let tx: BatchIo | undefined;
  let mm: MmsgBatch | undefined;
  try {
    tx = BatchIo.open(c, {
      fd: tun,
      batch: BURST,
      maxPacket: 65535,
      mapped: true,
      fixedFiles: false,
    });
    // Receive slots: every other slot of the writer (it never reads, so both halves are free).
    const stride = Math.floor(tx.memory.length / BURST / 64) * 64;
    mm = MmsgBatch.open(c, {
      fd: ipip.fd,
      batch: BURST,
      memory: rx.memory,
      address: rx.address!,
      rxMemory: tx.memory,
      rxAddress: tx.address!,
      rxOffset: RX_HEADROOM,
      rxStride: stride,
      rxBytes: 65536,
    });
  } catch (e) {
    rx.close();
    tx?.close();
    throw e;
  }
  const w = tx;
  const m = mm;
  let sendFailed = 0;
  let writesReported = 0;
  const countWriteFailures = () => {
    const n = w.writesFailed - writesReported;
    writesReported = w.writesFailed;
    return n;
  };
  const sendTunnel = (buf: Uint8Array, off: number, len: number, to: Uint8Array) => {
    if (buf === rx.memory) {
      if (m.queued >= m.batch) sendFailed += m.flushSends();
      return m.queueSend(off, len, to, 0);
    }
    // Another buffer (a keepalive probe): now, after what is held.
    sendFailed += m.flushSends();
    return ipip.send(off === 0 ? buf : buf.subarray(off), len, to) >= 0;
  };
  const flushTunnel = () => {
    const n = sendFailed + m.flushSends();
    sendFailed = 0;
    return n;
  };
  const common = {
    sendTunnel,
    flushTunnel,
    recvTunnel: (max: number) => m.recv(max),
    tunnelIn: w.memory,
    tunnelOffset: (i: number) => m.rxOffset(i),
    tunnelLength: (i: number) => m.length(i),
    tunnelFrom: m.names,
    tunnelFromOffset: (i: number) => m.fromOffset(i),
  };
  let io: BatchedIo["io"];
  if (!vnet) {
    io = {
      ...common,
      readTun: (max) => rx.read(max),
      tunIn: rx.memory,
      tunOffset: (i) => rx.offset(i),
      tunLength: (i) => rx.length(i),
      writeTun: (buf, off, len) => w.write(buf, off, len),
      flushTun() {
        w.flush();
        return countWriteFailures();
      },
    };
  } else {
    // Every packet read or written starts with a virtio header; the packets the tunnel brings
    // are joined into large TCP segments where they can be (TcpCoalescer).
    const offsets = new Int32Array(BURST);
    const lengths = new Int32Array(BURST);
    const gro = new TcpCoalescer(w.memory, (off, len) => {
      w.write(w.memory, off, len);
    });
    const scratch = new Uint8Array(VNET.HDR_LEN + 65536);
    io = {
      ...common,
      readTun(max) {
        const n = rx.read(max);
        const mem = rx.memory;
        for (let i = 0; i < n; i++) {
          const off = rx.offset(i);
          offsets[i] = off + VNET.HDR_LEN;
          lengths[i] = readVnetPacket(mem, off, rx.length(i));
        }
        return n;
      },
      tunIn: rx.memory,
      tunOffset: (i) => offsets[i],
      tunLength: (i) => lengths[i],
      writeTun(buf, off, len) {
        if (buf === w.memory) {
          gro.add(off, len);
          return true;
        }
        // Another buffer (an ICMPv4 error): after what is held, with an empty header.
        gro.flush();
        scratch.fill(0, 0, VNET.HDR_LEN);
        scratch.set(buf.subarray(off, off + len), VNET.HDR_LEN);
        return w.write(scratch, 0, len + VNET.HDR_LEN);
      },
      flushTun() {
        gro.flush();
        w.flush();
        counters[IO_COUNTER_ID["tun-coalesced-writes"]] = gro.coalesced;
        counters[IO_COUNTER_ID["tun-coalesced-packets"]] = gro.merged;
        counters[IO_COUNTER_ID["tun-coalesce-bad-checksums"]] = gro.badChecksums;
        return countWriteFailures();
      },
    };
  }
  return {
    io,
    close() {
      m.close();
      w.close();
      rx.close();
    },
  };
}

/** Bytes free before every tunnel receive slot (the virtio header of its TUN write). */
const RX_HEADROOM = 16;

function run(init: DataplaneInit): void {
  const c = libc();
  const ring = MessageRing.attach(init.ring, c);
  const stop = StopSignal.attach(init.stop, c);
  const local = parseIpv6(init.localIpv6);
  if (!local.ok) throw new TypeError(`Cannot parse IPv6 address ${init.localIpv6}`);
  const prefixes = [];
  for (const t of init.tepPrefixes) {
    const r = parseCidr6(t);
    if (r.ok) prefixes.push(r.value);
  }
  let tunnel: Raw6Socket | undefined;
  let icmp: Raw6Socket | undefined;
  try {
    tunnel = openIpipSocket({ local: init.localIpv6, hopLimit: init.hopLimit }, c);
    if (init.icmpErrors) icmp = openIcmpv6ErrorSocket({ local: init.localIpv6 }, c);
  } catch (e) {
    tunnel?.close();
    post(errorEvent(e));
    return;
  }
  const tun = init.tunFd;
  const ipip = tunnel;
  const errs = icmp;
  let batched: BatchedIo;
  try {
    batched = openBatchedIo(c, tun, ipip, init.vnetHeader, counterBlock(init.counters).io);
  } catch (e) {
    ipip.close();
    errs?.close();
    post(errorEvent(e));
    return;
  }
  const io: DataplaneIo = {
    ...batched.io,
    recvIcmp: (buf) => errs ? errs.recv(buf) : -1,
    icmpFrom: errs ? errs.from : NONE,
    popRing: (buf) => ring.pop(buf),
  };
  const loop = new DataplaneLoop({
    localIpv6: local.value,
    tepPrefixes: prefixes,
    probeId: init.probeId,
    mtu: init.mtu,
    counters: counterBlock(init.counters),
    io,
    post,
    clock: Date.now,
  });
  const fds = errs ? [tun, ipip.fd, ring.wakeFd, errs.fd] : [tun, ipip.fd, ring.wakeFd];
  post({ kind: "ready" });
  try {
    runPollLoop(c, {
      fds,
      stop,
      pollMs: 1000,
      onReadable(index) {
        switch (index) {
          case 0:
            return loop.onTun();
          case 1:
            return loop.onTunnel();
          case 2:
            ring.clearWake();
            return loop.onRing();
          case 3:
            return loop.onIcmp();
        }
      },
    });
  } catch (e) {
    batched.close();
    ipip.close();
    errs?.close();
    post(errorEvent(e));
    return;
  }
  batched.close();
  ipip.close();
  errs?.close();
  post({ kind: "stopped" });
}

scope.onmessage = (e: MessageEvent) => {
  try {
    run(e.data as DataplaneInit);
  } catch (err) {
    post(errorEvent(err));
  }
};
