/**
 * Namespace probe for the rtnetlink tests: optionally opens a TUN (kept open until `stop`),
 * then runs a list of NetlinkApi calls and prints each outcome.
 *
 * argv[2]: JSON `{ tun?: string, forwarding?: boolean, keepOpen?: boolean,
 *                  ops: { call: keyof NetlinkApi, args: unknown[] }[] }`
 * stdout: `{"event":"ready"}`, one `{"event":"result","i":n,"ok":bool,...}` per op,
 *         `{"event":"done"}`.
 */
import process from "node:process";
import { libc } from "../../lib/sys/libc.ts";
import type { NetlinkApi } from "../../lib/sys/netlink_api.ts";
import { Rtnetlink } from "../../lib/sys/rtnetlink.ts";
import { enableForwarding } from "../../lib/sys/sysctl.ts";
import { openTun, type TunHandle } from "../../lib/sys/tun.ts";
import { emit, errorFields, untilStop } from "./probe_io.ts";

interface Op {
  call: keyof NetlinkApi;
  args: unknown[];
}
interface Config {
  tun?: string;
  forwarding?: boolean;
  keepOpen?: boolean;
  ops: Op[];
}

async function main(): Promise<number> {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as Config;
  const c = libc();
  let tun: TunHandle | undefined;
  const nl = Rtnetlink.open(c);
  try {
    if (cfg.tun) tun = openTun({ name: cfg.tun }, c);
    if (cfg.forwarding) enableForwarding();
    emit("ready", { runtime: c.runtime, tun: tun?.name });
    for (const [i, op] of cfg.ops.entries()) {
      try {
        const f = nl[op.call] as (...a: unknown[]) => Promise<unknown>;
        const value = await f.apply(nl, op.args);
        emit("result", { i, call: op.call, ok: true, value });
      } catch (e) {
        emit("result", { i, call: op.call, ok: false, ...errorFields(e) });
      }
    }
    emit("done");
    if (cfg.keepOpen) await untilStop();
    return 0;
  } finally {
    nl.close();
    tun?.close();
  }
}

main().then((code) => process.exit(code), (e) => {
  emit("error", errorFields(e));
  process.exit(1);
});
