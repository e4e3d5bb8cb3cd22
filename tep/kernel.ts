/**
 * What the TEP asks of the kernel, through `lib/sys` (rtnetlink, sysctl, TUN): one TUN carrying
 * both families, IPv4 and IPv6 forwarding on, the IPv4 pool routed into the TUN, and the TEP's
 * tunnel address (TEPV6ADDR) routed into the TUN as a /128 (the address is not assigned locally:
 * packets for it reach the data plane, not the local stack). Everything it adds is removed on
 * exit ({@link teardownKernel}) and by `dstm-tep cleanup` ({@link cleanupInterface}).
 *
 * Before the TUN comes up, `net.ipv6.conf.<tun>.addr_gen_mode` is set to 1: no link-local
 * address, so no router solicitations in the data path; and `net.ipv4.conf.<tun>.accept_local`
 * to 1, because the ICMPv4 errors the TEP generates come from its own IPv4 address (TEPV4ADDR)
 * and the kernel would otherwise drop them as martians when they come out of the TUN.
 *
 * @module
 */
import type { NetlinkApi, RouteSpec } from "../lib/sys/netlink_api.ts";
import { SysError } from "../lib/sys/sys_error.ts";
import { enableForwarding, writeSysctl } from "../lib/sys/sysctl.ts";
import { openTun, type TunHandle } from "../lib/sys/tun.ts";
import type { Libc } from "../lib/sys/libc.ts";

/** What {@link setupKernel} needs. */
export interface KernelSpec {
  /** TUN name. */
  readonly interface: string;
  /** TUN MTU. */
  readonly mtu: number;
  /** TEPV6ADDR (routed as /128 into the TUN). */
  readonly address: string;
  /** The IPv4 pool (routed into the TUN). */
  readonly pool: string;
}

/** What {@link setupKernel} made (to undo). */
export interface KernelState {
  /** The open TUN. */
  readonly tun: TunHandle;
  /** Routes added, in order. */
  readonly routes: RouteSpec[];
}

/** A step of set-up or clean-up, for the log. */
export type KernelLog = (event: string, fields: Record<string, string | number>) => void;

function isCode(e: unknown, ...codes: string[]): boolean {
  return e instanceof SysError && codes.includes(e.code);
}

/**
 * Create the TUN and routes and turn on forwarding. If the interface already exists, fails with
 * a message pointing at `dstm-tep cleanup` (another TEP may be running). On any failure,
 * whatever was made is removed before the error is rethrown.
 */
export async function setupKernel(
  spec: KernelSpec,
  nl: NetlinkApi,
  c: Libc,
  log: KernelLog,
): Promise<KernelState> {
  try {
    await nl.getLink(spec.interface);
    throw new Error(
      `interface ${spec.interface} already exists: another dstm-tep may be running, or a killed ` +
        `one left it behind (remove it with: dstm-tep cleanup --interface ${spec.interface})`,
    );
  } catch (e) {
    if (!isCode(e, "ENODEV")) throw e;
  }
  const tun = openTun({ name: spec.interface }, c);
  const routes: RouteSpec[] = [];
  const state: KernelState = { tun, routes };
  try {
    writeSysctl(`net.ipv6.conf.${tun.name}.addr_gen_mode`, "1");
    // The data plane writes ICMPv4 errors from TEPV4ADDR, a local address, into the TUN: without
    // accept_local the kernel drops them on input as martians.
    writeSysctl(`net.ipv4.conf.${tun.name}.accept_local`, "1");
    enableForwarding({ ipv4: true, ipv6: true });
    await nl.setLink(tun.name, { mtu: spec.mtu, up: true });
    for (const dst of [`${spec.address}/128`, spec.pool]) {
      const r: RouteSpec = { dst, dev: tun.name };
      await nl.addRoute(r);
      routes.push(r);
      log("tep.kernel.route.added", { dst, dev: tun.name });
    }
    log("tep.kernel.ready", { interface: tun.name, mtu: spec.mtu });
    return state;
  } catch (e) {
    await teardownKernel(state, nl, log);
    throw e;
  }
}

/** Remove the routes and close the TUN (the device goes with its last fd). Never throws. */
export async function teardownKernel(
  state: KernelState,
  nl: NetlinkApi,
  log: KernelLog,
): Promise<void> {
  for (const r of [...state.routes].reverse()) {
    try {
      await nl.deleteRoute(r);
      log("tep.kernel.route.removed", { dst: r.dst, dev: r.dev ?? "" });
    } catch (e) {
      if (!isCode(e, "ESRCH", "ENODEV")) {
        log("tep.kernel.route.remove_failed", { dst: r.dst, error: String((e as Error).message) });
      }
    }
  }
  state.routes.length = 0;
  state.tun.close();
  // A non-persistent TUN disappears with its fd; if something else holds it, delete the link.
  try {
    await nl.deleteLink(state.tun.name);
  } catch { /* gone already: the usual case */ }
}

/** What {@link cleanupInterface} found and removed. */
export interface CleanupReport {
  /** The link existed and was deleted. */
  readonly linkRemoved: boolean;
  /** Routes through it that were deleted. */
  readonly routesRemoved: string[];
}

/**
 * Remove a TUN left behind (`dstm-tep cleanup`): every route out of `name`, then the link. A
 * missing link is not an error (a killed TEP's non-persistent TUN vanishes with its process).
 */
export async function cleanupInterface(name: string, nl: NetlinkApi): Promise<CleanupReport> {
  let exists = true;
  try {
    await nl.getLink(name);
  } catch (e) {
    if (!isCode(e, "ENODEV")) throw e;
    exists = false;
  }
  if (!exists) return { linkRemoved: false, routesRemoved: [] };
  const removed: string[] = [];
  for (const r of await nl.listRoutes({ dev: name })) {
    if (r.type !== "unicast") continue; // local/broadcast routes go with the link
    try {
      await nl.deleteRoute({ dst: r.dst, dev: name, table: r.table, family: r.family });
      removed.push(r.dst);
    } catch (e) {
      if (!isCode(e, "ESRCH")) throw e;
    }
  }
  await nl.deleteLink(name);
  return { linkRemoved: true, routesRemoved: removed };
}
