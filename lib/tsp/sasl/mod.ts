/**
 * SASL mechanisms for TSP (RFC 5572): ANONYMOUS, PLAIN and DIGEST-MD5, server and client sides,
 * pure (no I/O, no timers, randomness injected).
 *
 * @module
 */
export {
  MECHANISM_NAMES,
  type MechanismName,
  parseMechanismName,
  type PasswordLookup,
  type SaslClient,
  type SaslClientStep,
  type SaslServer,
  type SaslServerStep,
} from "./mechanism.ts";
export { ANONYMOUS_IDENTITY, anonymousClient, anonymousServer } from "./anonymous.ts";
export { PLAIN_MAX_FIELD, plainClient, plainServer } from "./plain.ts";
export {
  DIGEST_MD5_NC,
  DIGEST_MD5_QOP,
  type DigestMd5Params,
  digestMd5Response,
  digestMd5Rspauth,
} from "./digest_md5_hash.ts";
export {
  DIGEST_MD5_MAX_RESPONSE,
  digestMd5ChallengeText,
  digestMd5Server,
  type DigestMd5ServerOptions,
  TSP_SERV_TYPE,
} from "./digest_md5_server.ts";
export {
  DIGEST_MD5_MAX_CHALLENGE,
  digestMd5Client,
  type DigestMd5ClientOptions,
} from "./digest_md5_client.ts";
export {
  createSaslClient,
  createSaslServer,
  type SaslClientOptions,
  type SaslServerOptions,
} from "./factory.ts";
