/**
 * Namespace probe (run by the sys tests, also compiled with `bun build --compile` together with
 * `probe_tun_worker.ts`): creates a TUN, configures it over rtnetlink, answers ICMP/ICMPv6 echo
 * requests from a Worker running the blocking poll loop, stops on `stop` or end of stdin.
 *
 * argv[2]: JSON `{ name, mtu, addresses, routes, forwarding }` (addresses and routes without
 * `dev`; `forwarding` turns on IPv4 and IPv6 forwarding).
 * stdout: `{"event":"ready",...}`, then `{"event":"done","seen":n,"answered":n}`.
 */
import process from "node:process";
import { libc } from "../../lib/sys/libc.ts";
import type { AddressSpec, RouteSpec } from "../../lib/sys/netlink_api.ts";
import { Rtnetlink } from "../../lib/sys/rtnetlink.ts";
import { StopSignal } from "../../lib/sys/stop_signal.ts";
import { enableForwarding } from "../../lib/sys/sysctl.ts";
import { openTun } from "../../lib/sys/tun.ts";
import { emit, errorFields, untilStop } from "./probe_io.ts";

interface ProbeConfig {
  name: string;
  mtu?: number;
  addresses?: Omit<AddressSpec, "dev">[];
  routes?: Omit<RouteSpec, "dev">[];
  forwarding?: boolean;
}

async function main(): Promise<number> {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as ProbeConfig;
  const c = libc();
  const tun = openTun({ name: cfg.name }, c);
  const nl = Rtnetlink.open(c);
  try {
    if (cfg.forwarding) enableForwarding();
    await nl.setLink(tun.name, { mtu: cfg.mtu ?? 1500, up: true });
    for (const a of cfg.addresses ?? []) await nl.addAddress({ ...a, dev: tun.name });
    for (const r of cfg.routes ?? []) await nl.addRoute({ ...r, dev: tun.name });
    const stop = StopSignal.create(c);
    const worker = new Worker(new URL("./probe_tun_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const done = new Promise<{ seen: number; answered: number }>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => resolve(e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new Error(`worker: ${e.message}`));
      };
    });
    worker.postMessage({ fd: tun.fd, stop: stop.init });
    emit("ready", { name: tun.name, runtime: c.runtime });
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
