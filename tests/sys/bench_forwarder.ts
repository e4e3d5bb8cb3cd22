/**
 * Forwarder of bench_io.ts, in the middle namespace: a TUN receiving the IPv4 pool, and a
 * Worker that encapsulates each packet in IPv6 like a TEP. Modes:
 *  - `tun`: prepend the IPv6 header in user space and write the packet back to the same TUN
 *    (the kernel forwards it: the single-TUN TEP design);
 *  - `raw`: hand the IPv4 packet to a raw IPIP socket (the kernel adds the IPv6 header).
 *
 * argv[2]: JSON `{ mode, src, dst, pool }`. stdout: ready, then on `stop` the counts.
 */
import process from "node:process";
import { libc } from "../../lib/sys/libc.ts";
import { Rtnetlink } from "../../lib/sys/rtnetlink.ts";
import { StopSignal } from "../../lib/sys/stop_signal.ts";
import { openTun } from "../../lib/sys/tun.ts";
import { emit, errorFields, untilStop } from "./probe_io.ts";

async function main(): Promise<number> {
  const cfg = JSON.parse(process.argv[2]) as {
    mode: "tun" | "raw";
    src: string;
    dst: string;
    pool: string;
  };
  const c = libc();
  const tun = openTun({ name: "btun0" }, c);
  const nl = Rtnetlink.open(c);
  try {
    await nl.setLink(tun.name, { up: true, mtu: 1500 });
    await nl.addRoute({ dst: cfg.pool, dev: tun.name });
    const stop = StopSignal.create(c);
    const worker = new Worker(new URL("./bench_forwarder_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const done = new Promise<Record<string, number>>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => resolve(e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
    });
    worker.postMessage({ fd: tun.fd, stop: stop.init, ...cfg });
    emit("ready", { runtime: c.runtime });
    await untilStop();
    stop.stop();
    const counts = await done;
    worker.terminate();
    stop.close();
    emit("done", counts);
    return 0;
  } finally {
    nl.close();
    tun.close();
  }
}

main().then((code) => process.exit(code), (e) => {
  emit("error", errorFields(e));
  process.exit(1);
});
