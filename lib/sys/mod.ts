/**
 * `lib/sys`: the only code that knows which runtime it runs on. TUN devices, rtnetlink, raw
 * IPv6 sockets and the packet loops, through FFI (`Deno.dlopen` on Deno, `bun:ffi` on Bun),
 * with in-memory fakes of each seam for unit tests.
 *
 * @module
 */

// Runtime facts and the control channel.
export * from "./runtime.ts";
export * from "./control_socket.ts";

// Errors.
export { Errno, errnoByName, errnoName, errnoText } from "./errno.ts";
export { EXIT_NO_PERMISSION, SysError } from "./sys_error.ts";

// FFI primitives (usable inside Workers: each thread opens its own libc).
export { cString, type Libc, libc } from "./libc.ts";
export { HOST_LE, LINUX } from "./linux_constants.ts";
export { readPacket, setNonBlocking, writePacket } from "./fd_io.ts";
export { PollSet } from "./poll_set.ts";
export { StopSignal, type StopSignalInit } from "./stop_signal.ts";
export { MESSAGE_RING_MAX, MessageRing, type MessageRingInit } from "./message_ring.ts";
export { workerModuleUrls } from "./worker_url.ts";
export { type PollLoopOptions, runPollLoop } from "./poll_loop.ts";
export { DEFAULT_MAX_IDLE_MS, PacketPoller, type TryRead } from "./packet_poller.ts";
export { BatchIo, type BatchIoOptions } from "./batch_io.ts";
export { IORING, IoUring } from "./io_uring.ts";
export {
  type NativeTcp,
  nativeTcp,
  type NativeTcpHandlers,
  type NativeTcpListener,
  type NativeTcpSocket,
} from "./native_tcp.ts";

// Addresses as bytes.
export {
  formatIp,
  formatIpv4,
  formatIpv6,
  type IpBytes,
  type IpFamily,
  type IpPrefix,
  parseIp,
  parseIpv4,
  parseIpv6,
  parsePrefix,
} from "./ip_text.ts";

// rtnetlink.
export type {
  AddressEntry,
  AddressFilter,
  AddressInfo,
  AddressSpec,
  LinkChange,
  LinkInfo,
  NetlinkApi,
  RouteEntry,
  RouteFilter,
  RouteInfo,
  RouteSpec,
  RouteType,
} from "./netlink_api.ts";
export { Rtnetlink } from "./rtnetlink.ts";
export { type FakeLinkOptions, FakeNetlink } from "./fake_netlink.ts";

// TUN.
export { openTun, setTunQueueLength, TUN, type TunHandle, type TunOptions } from "./tun.ts";
export type { TunDevice } from "./tun_device.ts";
export { PolledTunDevice, type PolledTunOptions } from "./polled_tun_device.ts";
export { FakeTun } from "./fake_tun.ts";

// The IPv6 side: raw IPv6 sockets.
export {
  openIcmpv6ErrorSocket,
  openIpipSocket,
  type PmtuDiscover,
  type Raw6Options,
  Raw6Socket,
  SOCKADDR_IN6_LEN,
  writeSockaddrIn6,
} from "./raw6_socket.ts";
export type { TunnelDatagram, TunnelSocket } from "./tunnel_socket.ts";
export { type PolledTunnelOptions, PolledTunnelSocket } from "./polled_tunnel_socket.ts";
export { FakeTunnelNetwork, FakeTunnelSocket } from "./fake_tunnel_socket.ts";

// Kernel parameters.
export {
  enableForwarding,
  type ForwardingOptions,
  readSysctl,
  sysctlPath,
  writeSysctl,
} from "./sysctl.ts";
