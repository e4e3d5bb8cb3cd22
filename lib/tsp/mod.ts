/**
 * The Tunnel Setup Protocol (RFC 5572) as dstm speaks it: the DSTM `v4v6` profile with the
 * multi-TEP `query` extension (draft-jaehwoon-dstm-multitep-02), sans-I/O.
 *
 * - Control lines: {@link parseVersionLine}, {@link parseCapabilityLine},
 *   {@link parseAuthenticateLine}, {@link parseStatusLine} and their formatters.
 * - Status codes: {@link STATUS_CODES} (one table), {@link Status}, redirect helpers.
 * - Framing: {@link FrameReader} (lines, `Content-length` frames, unframed status lines),
 *   {@link encodeCommand}, {@link encodeReply}, {@link writeFrame}; {@link parseReplyBody}.
 * - XML: {@link parseTunnel} / {@link encodeTunnel} over typed {@link TunnelMessage}s; the
 *   §3.2 repair ({@link repairXml}); DSTM builders and readers in `dstm_profile.ts`.
 * - UDP: {@link parseUdpDatagram} / {@link writeUdpHeader}, {@link UdpClientLink}
 *   (retransmission), {@link UdpServerLink} and {@link UdpReplyCache} (idempotent replies).
 * - Sessions: {@link TspClientSession}, {@link TspServerSession} (events in, actions out).
 * - Pushes (server → TEP binding add/remove, server → client delete): see `PUSH.md`.
 * - SASL (ANONYMOUS, PLAIN, DIGEST-MD5): re-exported from `sasl/mod.ts`.
 *
 * @module
 */
export * from "./sasl/mod.ts";
export {
  type AddressTextReason,
  type AddressTextResult,
  type AddressType,
  checkAddressText,
} from "./address_text.ts";
export {
  type AuthenticateLineResult,
  formatAuthenticateLine,
  parseAuthenticateLine,
} from "./authenticate.ts";
export {
  type Capabilities,
  type CapabilityLineResult,
  formatCapabilityLine,
  MAX_CAPABILITY_LINE,
  parseCapabilityLine,
} from "./capability.ts";
export {
  type AcceptOutcome,
  type ServerAction,
  type ServerEvent,
  type ServerPhase,
  type ServerReply,
  type ServerSessionOptions,
  TspServerSession,
} from "./server_session.ts";
export {
  type ClientAction,
  type ClientEvent,
  type ClientFailureStage,
  type ClientPhase,
  type ClientSessionOptions,
  TspClientSession,
} from "./client_session.ts";
export {
  allocationInfo,
  type AllocationInfoFields,
  allocationRequest,
  type AllocationRequestOptions,
  type AllocationView,
  bindingPush,
  type BindingView,
  DEFAULT_LIFETIME_MINUTES,
  firstAddress,
  isPushMessage,
  leaseDeletePush,
  queryInfo,
  type QueryInfoFields,
  queryRequest,
  readAllocationInfo,
  readPush,
  readQueryInfo,
  readQueryKey,
  readRequestAddresses,
  releaseRequest,
  renewalRequest,
  type TepAddresses,
} from "./dstm_profile.ts";
export { encodeTunnel, type XmlLayout } from "./encode_tunnel.ts";
export {
  DEFAULT_FRAME_LIMITS,
  type FrameErrorReason,
  type FrameItem,
  type FrameLimits,
  FrameReader,
  type FrameReaderOptions,
  type ReadMode,
} from "./frame_reader.ts";
export {
  encodeCommand,
  encodeFrame,
  encodeLine,
  encodeLineBytes,
  encodeReply,
  writeFrame,
} from "./frame_writer.ts";
export {
  MAX_ADDRESSES,
  parseTunnel,
  type ParseTunnelOptions,
  statusForParseFailure,
  type TunnelParseReason,
  type TunnelParseResult,
} from "./parse_tunnel.ts";
export {
  parseReplyBody,
  type ReplyBody,
  type ReplyBodyReason,
  type ReplyBodyResult,
} from "./reply_body.ts";
export {
  baseStatusCode,
  isRedirectCode,
  isSuccessCode,
  REDIRECT_OFFSET,
  Status,
  STATUS_CODES,
  type StatusCodeEntry,
  statusEntry,
  statusText,
} from "./status_codes.ts";
export {
  formatStatusLine,
  MAX_STATUS_LINE,
  parseStatusLine,
  type StatusLine,
  type StatusLineReason,
  type StatusLineResult,
} from "./status_line.ts";
export {
  type AcceptMessage,
  type Broker,
  type CommandMessage,
  type CreateMessage,
  type DeleteMessage,
  type Endpoint,
  type InfoMessage,
  isCommandMessage,
  type Keepalive,
  type ListMessage,
  type Prefix,
  type QueryMessage,
  type RejectMessage,
  type Router,
  type TspAddress,
  TUNNEL_TYPES,
  type TunnelAction,
  type TunnelFields,
  type TunnelMessage,
  type TunnelType,
} from "./tunnel_message.ts";
export {
  UDP_CLIENT_DEFAULTS,
  type UdpClientAction,
  type UdpClientDropReason,
  type UdpClientEvent,
  UdpClientLink,
  type UdpClientLinkOptions,
} from "./udp_client_link.ts";
export {
  compareSequence,
  encodeUdpDatagram,
  isTspSignal,
  nextSequence,
  parseUdpDatagram,
  UDP_HEADER,
  type UdpDatagramResult,
  type UdpHeader,
  type UdpHeaderReason,
  writeUdpHeader,
} from "./udp_header.ts";
export { UdpReplyCache, type UdpReplyCacheOptions } from "./udp_reply_cache.ts";
export {
  UdpServerLink,
  type UdpServerLinkOptions,
  type UdpServerReceive,
} from "./udp_server_link.ts";
export {
  formatVersionLine,
  hasAcceptStep,
  isTsp20Version,
  isTspVersion,
  parseVersionLine,
  TSP_VERSIONS,
  type TspVersion,
  type VersionLineResult,
} from "./version.ts";
export {
  DEFAULT_MAX_XML_DEPTH,
  repairXml,
  type XmlRepairReason,
  type XmlRepairResult,
} from "./xml_repair.ts";
export {
  parseXmlTree,
  type XmlElement,
  type XmlTreeOptions,
  type XmlTreeReason,
  type XmlTreeResult,
} from "./xml_tree.ts";
