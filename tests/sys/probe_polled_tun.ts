/**
 * Namespace probe for PolledTunDevice: the async main-thread interface answering echo requests
 * with `await dev.read()` / `dev.write()`, while a timer keeps ticking (the event loop is free).
 *
 * argv[2]: JSON `{ name, mtu?, addresses, routes }` as probe_tun.ts.
 * stdout: `{"event":"ready"}`, then `{"event":"done","answered":n,"ticks":n}`.
 */
import process from "node:process";
import { libc } from "../../lib/sys/libc.ts";
import type { AddressSpec, RouteSpec } from "../../lib/sys/netlink_api.ts";
import { PolledTunDevice } from "../../lib/sys/polled_tun_device.ts";
import { Rtnetlink } from "../../lib/sys/rtnetlink.ts";
import { answerEcho } from "./echo.ts";
import { emit, errorFields, untilStop } from "./probe_io.ts";

interface ProbeConfig {
  name: string;
  mtu?: number;
  addresses?: Omit<AddressSpec, "dev">[];
  routes?: Omit<RouteSpec, "dev">[];
}

async function main(): Promise<number> {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as ProbeConfig;
  const c = libc();
  const dev = PolledTunDevice.open({ name: cfg.name, maxIdleMs: 5 }, c);
  const nl = Rtnetlink.open(c);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  try {
    await nl.setLink(dev.name, { mtu: cfg.mtu ?? 1500, up: true });
    for (const a of cfg.addresses ?? []) await nl.addAddress({ ...a, dev: dev.name });
    for (const r of cfg.routes ?? []) await nl.addRoute({ ...r, dev: dev.name });
    let answered = 0;
    const loop = (async () => {
      for (;;) {
        const p = await dev.read();
        if (p === null) return;
        if (answerEcho(p, p.length) && dev.write(p)) answered++;
      }
    })();
    emit("ready", { name: dev.name, runtime: c.runtime });
    await untilStop();
    dev.close();
    await loop;
    emit("done", { answered, ticks });
    return 0;
  } finally {
    clearInterval(timer);
    nl.close();
    dev.close();
  }
}

main().then((code) => process.exit(code), (e) => {
  emit("error", errorFields(e));
  process.exit(1);
});
