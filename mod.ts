/**
 * dstm: DSTM with the Multiple-TEP extension (draft-jaehwoon-dstm-multitep-02).
 *
 * The public API of `lib/`: the pieces the three binaries are built from, usable on their own.
 * Each area is a namespace, because names repeat across areas (`inet.parseIpv4` parses a packet
 * header, `addr.parseIpv4` parses address text).
 *
 * ```ts
 * import { addr, tsp } from "./mod.ts";
 * const r = addr.parseIpv4("198.51.100.7");
 * const bytes = tsp.encodeCommand(tsp.encodeTunnel(tsp.queryRequest("198.51.100.7")));
 * ```
 * @module
 */
export * as addr from "./lib/addr/mod.ts";
export * as inet from "./lib/inet/mod.ts";
export * as tsp from "./lib/tsp/mod.ts";
export * as lease from "./lib/lease/mod.ts";
export * as tep from "./lib/tep/mod.ts";
export * as client from "./lib/client/mod.ts";
export * as sys from "./lib/sys/mod.ts";
export * as cli from "./lib/cli/command.ts";
export { ExitCode } from "./lib/cli/exit_codes.ts";
export { ExitError, runMain, versionText } from "./lib/cli/run_main.ts";
export { ConfigError, type ConfigIssue } from "./lib/config/config_error.ts";
export { parseJsonConfig, type Schema, validate } from "./lib/config/schema.ts";
export { parseEndpoint } from "./lib/config/addresses.ts";
export { parseCredentials, parseUserPass } from "./lib/auth/credentials.ts";
export { createLogger, type Logger } from "./lib/log/logger.ts";
export { MetricsRegistry } from "./lib/metrics/registry.ts";
export { type CtlRequest, type CtlResponse, parseCtlRequest } from "./lib/ctl/protocol.ts";
export { VERSION } from "./lib/version.ts";
