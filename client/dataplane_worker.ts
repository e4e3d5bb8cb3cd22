/**
 * The client's data-plane Worker: a blocking `poll(2)` loop over the TUN, the raw
 * IPv4-in-IPv6 socket, the control ring and the raw ICMPv6 error socket, each readable fd handed
 * to {@link DataplaneLoop} (`dataplane_loop.ts`, where the rules are carried out). The raw
 * sockets are opened here, bound to the registered IPv6 address: the kernel adds the IPv6 header
 * (source = that address, next header 4, the configured hop limit) to every send and fragments
 * when needed (protocol.md §4.1, §4.3), and hands over only packets addressed to it.
 *
 * Started by `dataplane_host.ts` with one {@link DataplaneInit} message; answers `ready` (or
 * `error`), later `stopped`.
 *
 * @module
 */
import { parseCidr6, parseIpv6 } from "../lib/addr/mod.ts";
import {
  libc,
  openIcmpv6ErrorSocket,
  openIpipSocket,
  type Raw6Socket,
  runPollLoop,
  StopSignal,
  SysError,
} from "../lib/sys/mod.ts";
import { MessageRing } from "../lib/sys/message_ring.ts";
import { type DataplaneIo, DataplaneLoop } from "./dataplane_loop.ts";
import { counterBlock } from "./io_counters.ts";
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
  const io: DataplaneIo = {
    readTun: (buf) => c.read(tun, buf, buf.length),
    writeTun: (buf, len) => c.write(tun, buf, len),
    recvTunnel: (buf) => ipip.recv(buf),
    tunnelFrom: ipip.from,
    sendTunnel: (buf, len, to) => ipip.send(buf, len, to),
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
    ipip.close();
    errs?.close();
    post(errorEvent(e));
    return;
  }
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
