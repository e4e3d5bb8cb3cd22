/**
 * Namespace probe for raw IPv6 sockets.
 *
 * argv[2]: JSON, one of
 *  - `{ mode: "echo", local }`: receive IPv4-in-IPv6 and send each packet back to its source;
 *    prints `{"event":"rx","size":n,"from":addr}` per packet.
 *  - `{ mode: "send", local, to, sizes }`: send one packet of each size, wait for the echoes;
 *    prints `{"event":"echo","size":n,"from":addr}` per echo, then `{"event":"done"}`.
 *  - `{ mode: "errors", local, to }`: send one packet nobody receives and wait for the ICMPv6
 *    error; prints `{"event":"icmp","type":t,"code":c,"from":addr,"innerNextHeader":nh}`.
 */
import process from "node:process";
import { formatIpv6, parseIpv6 } from "../../lib/sys/ip_text.ts";
import { libc } from "../../lib/sys/libc.ts";
import { PolledTunnelSocket } from "../../lib/sys/polled_tunnel_socket.ts";
import { openIcmpv6ErrorSocket, openIpipSocket } from "../../lib/sys/raw6_socket.ts";
import { emit, errorFields, untilStop } from "./probe_io.ts";

interface Config {
  mode: "echo" | "send" | "errors";
  local: string;
  to?: string;
  sizes?: number[];
}

/** An IPv4 header (20 bytes) with a recognisable payload; total length `size`. */
function ipv4Packet(size: number): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = 0x45;
  p[2] = size >> 8;
  p[3] = size & 0xff;
  p[8] = 64;
  p[9] = 253; // experimental protocol
  p.set([198, 51, 100, 7, 203, 0, 113, 5], 12);
  for (let i = 20; i < size; i++) p[i] = i & 0xff;
  return p;
}

async function main(): Promise<number> {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as Config;
  const c = libc();
  if (cfg.mode === "echo") {
    const s = PolledTunnelSocket.open({ local: cfg.local, maxIdleMs: 5 }, c);
    const loop = (async () => {
      for (;;) {
        const d = await s.recv();
        if (d === null) return;
        emit("rx", { size: d.packet.length, from: d.from, first: d.packet[0] });
        s.send(d.packet, d.from);
      }
    })();
    emit("ready", { runtime: c.runtime });
    await untilStop();
    s.close();
    await loop;
    return 0;
  }
  if (cfg.mode === "send") {
    const s = PolledTunnelSocket.open({ local: cfg.local, maxIdleMs: 5 }, c);
    emit("ready", { runtime: c.runtime });
    for (const size of cfg.sizes ?? []) {
      s.send(ipv4Packet(size), cfg.to!);
      const d = await s.recv();
      const intact = d !== null && d.packet.every((b, i) => b === ipv4Packet(size)[i]);
      emit("echo", { size: d?.packet.length, from: d?.from, intact });
    }
    s.close();
    emit("done");
    return 0;
  }
  // errors
  const icmp = openIcmpv6ErrorSocket({ nonBlocking: false }, c);
  const tx = openIpipSocket({ local: cfg.local }, c);
  emit("ready", { runtime: c.runtime });
  const p = ipv4Packet(60);
  tx.send(p, p.length, parseIpv6(cfg.to!)!);
  const buf = new Uint8Array(2048);
  const n = icmp.recv(buf);
  if (n < 0) throw new Error(`recv failed: ${-n}`);
  // ICMPv6 header (8 bytes), then the invoking IPv6 packet: next header at byte 6.
  emit("icmp", {
    type: buf[0],
    code: buf[1],
    from: formatIpv6(icmp.from),
    innerNextHeader: buf[8 + 6],
    innerVersion: buf[8 + 40] >> 4,
  });
  icmp.close();
  tx.close();
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  emit("error", errorFields(e));
  process.exit(1);
});
