/** Worker of bench_forwarder.ts: the forwarding loop (zero allocation per packet). */
import { parseIpv6 } from "../../lib/sys/ip_text.ts";
import { libc } from "../../lib/sys/libc.ts";
import { runPollLoop } from "../../lib/sys/poll_loop.ts";
import { openIpipSocket } from "../../lib/sys/raw6_socket.ts";
import { StopSignal, type StopSignalInit } from "../../lib/sys/stop_signal.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(data: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent) => {
  const cfg = e.data as {
    fd: number;
    stop: StopSignalInit;
    mode: string;
    src: string;
    dst: string;
  };
  const c = libc();
  const fd = cfg.fd;
  const src = parseIpv6(cfg.src)!;
  const dst = parseIpv6(cfg.dst)!;
  const buf = new Uint8Array(65536 + 40);
  const inner = buf.subarray(40);
  // Fixed part of the IPv6 header: version 6, next header 4, hop limit 64.
  buf[0] = 0x60;
  buf[6] = 4;
  buf[7] = 64;
  buf.set(src, 8);
  buf.set(dst, 24);
  let packets = 0;
  let writeErrors = 0;
  let polls = 0;
  const raw = cfg.mode === "raw" ? openIpipSocket({ local: cfg.src }, c) : undefined;
  runPollLoop(c, {
    fds: [fd],
    stop: StopSignal.attach(cfg.stop, c),
    onWake() {
      polls++;
    },
    onReadable() {
      for (;;) {
        const n = c.read(fd, inner, 65536);
        if (n < 0) return;
        if (inner[0] >> 4 !== 4) continue;
        packets++;
        if (raw) {
          if (raw.send(inner, n, dst) < 0) writeErrors++;
        } else {
          buf[4] = n >> 8;
          buf[5] = n & 0xff;
          if (c.write(fd, buf, n + 40) < 0) writeErrors++;
        }
      }
    },
  });
  raw?.close();
  scope.postMessage({ packets, writeErrors, polls });
};
