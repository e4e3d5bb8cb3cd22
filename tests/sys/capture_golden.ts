/**
 * Regenerates `lib/sys/testdata/rtnetlink_golden.json`: the netlink requests the `ip` tool
 * sends (captured with `strace -e trace=sendmsg -e write=3 -xx`) and the kernel's answers
 * (`-e trace=recvmsg -e read=3`), in a scratch network namespace. Run manually as root:
 *
 *   deno run -A tests/sys/capture_golden.ts     (or: bun tests/sys/capture_golden.ts)
 *
 * The unit tests of `lib/sys/rtnl_*.ts` compare our encoders with the captured requests
 * (patching in the same sequence number) and decode the captured answers.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

const NS = `dsgold${process.pid}`;

function run(args: string[]): string {
  const r = spawnSync(args[0], args.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

interface Captured {
  call: string;
  fd: number;
  ret: number;
  hex: string;
}

/** Run `ip ...` in the namespace under strace and return the dumped netlink buffers. */
function trace(kind: "sendmsg" | "recvmsg", ipArgs: string[], allowFail = false): Captured[] {
  const out = `/tmp/${NS}.strace`;
  const dump = kind === "sendmsg" ? "write=3" : "read=3";
  const r = spawnSync("ip", [
    "netns",
    "exec",
    NS,
    "strace",
    "-o",
    out,
    "-e",
    `trace=${kind}`,
    "-e",
    dump,
    "-xx",
    "-s",
    "0",
    "ip",
    ...ipArgs,
  ], { encoding: "utf8" });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${ipArgs.join(" ")}: ${r.stderr}`);
  const text = fs.readFileSync(out, "utf8");
  fs.unlinkSync(out);
  const res: Captured[] = [];
  let cur: Captured | undefined;
  for (const line of text.split("\n")) {
    const m = /^(sendmsg|recvmsg)\((\d+),.*= (-?\d+)/.exec(line);
    if (m) {
      cur = { call: m[1], fd: Number(m[2]), ret: Number(m[3]), hex: "" };
      res.push(cur);
      continue;
    }
    const d = /^ \| [0-9a-f]{5} {2}(.{48})/.exec(line);
    if (d && cur) cur.hex += d[1].replaceAll(" ", "");
  }
  return res.filter((c) => c.fd === 3 && c.hex.length > 0);
}

const golden: Record<string, unknown> = {};
function request(name: string, args: string[]): void {
  const caps = trace("sendmsg", args);
  const last = caps.at(-1);
  if (!last) throw new Error(`no request captured for ${name}`);
  golden[name] = { command: `ip ${args.join(" ")}`, hex: last.hex };
}
function answer(name: string, args: string[], allowFail = false): void {
  const caps = trace("recvmsg", args, allowFail);
  golden[name] = { command: `ip ${args.join(" ")}`, hex: caps.map((c) => c.hex) };
}

run(["ip", "netns", "add", NS]);
try {
  run(["ip", "-n", NS, "tuntap", "add", "dev", "tun0", "mode", "tun"]);
  run(["ip", "-n", NS, "link", "add", "va", "type", "veth", "peer", "name", "vb"]);
  const links = JSON.parse(run(["ip", "-j", "-n", NS, "link", "show"])) as {
    ifname: string;
    ifindex: number;
  }[];
  golden.ifindex = Object.fromEntries(links.map((l) => [l.ifname, l.ifindex]));

  request("link_up", ["link", "set", "dev", "tun0", "up"]);
  request("link_mtu", ["link", "set", "dev", "tun0", "mtu", "1400"]);
  request("link_down", ["link", "set", "dev", "vb", "down"]);
  request("link_delete", ["link", "del", "va"]);
  request("addr_add4", ["addr", "add", "10.0.0.1/24", "dev", "tun0"]);
  request("addr_add4_peer", ["addr", "add", "10.9.0.1", "peer", "10.9.0.2", "dev", "tun0"]);
  request("addr_add6_nodad", ["-6", "addr", "add", "2001:db8::1/64", "dev", "tun0", "nodad"]);
  request("route_add4_dev", [
    "route",
    "add",
    "10.1.0.0/16",
    "dev",
    "tun0",
    "metric",
    "5",
    "table",
    "100",
  ]);
  request("route_add4_full", [
    "route",
    "add",
    "10.4.0.0/16",
    "table",
    "1000",
    "via",
    "10.0.0.254",
    "metric",
    "9",
    "src",
    "10.0.0.1",
    "dev",
    "tun0",
  ]);
  request("route_add6_host", ["-6", "route", "add", "2001:db8:ffff::1/128", "dev", "tun0"]);
  request("route_add6_via", [
    "-6",
    "route",
    "add",
    "2001:db8:aa::/48",
    "via",
    "2001:db8::fe",
    "dev",
    "tun0",
  ]);
  request("route_add4_default", ["route", "add", "default", "via", "10.0.0.254"]);
  request("route_replace_blackhole", ["route", "replace", "blackhole", "10.3.0.0/16"]);
  request("route_delete4", [
    "route",
    "del",
    "10.1.0.0/16",
    "dev",
    "tun0",
    "metric",
    "5",
    "table",
    "100",
  ]);
  request("addr_delete4", ["addr", "del", "10.9.0.1", "peer", "10.9.0.2", "dev", "tun0"]);

  answer("answer_link_tun0", ["link", "show", "dev", "tun0"]);
  answer("answer_addr_dump4", ["-4", "addr", "show", "dev", "tun0"]);
  answer("answer_route_dump4", ["-4", "route", "show", "table", "all", "dev", "tun0"]);
  answer("answer_route_dump6", ["-6", "route", "show", "dev", "tun0"]);
  answer("answer_error_eexist", ["addr", "add", "10.0.0.1/24", "dev", "tun0"], true);

  const target = fileURLToPath(
    new URL("../../lib/sys/testdata/rtnetlink_golden.json", import.meta.url),
  );
  fs.mkdirSync(fileURLToPath(new URL("../../lib/sys/testdata/", import.meta.url)), {
    recursive: true,
  });
  fs.writeFileSync(target, JSON.stringify(golden, null, 2) + "\n");
  console.log(`wrote ${target}`);
} finally {
  spawnSync("ip", ["netns", "del", NS]);
}
