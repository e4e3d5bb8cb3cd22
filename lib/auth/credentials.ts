/**
 * The credentials file shared by the server (all users) and read by TEPs and clients (their own
 * line): one `user:password:role` per line, role `client` or `tep`; `#` starts a comment. A TEP's
 * or client's own file may hold just `user:password`.
 */
import type { ConfigIssue } from "../config/config_error.ts";

/** The roles an identity can hold. */
export type Role = "client" | "tep";

/** One user of the credentials file. */
export interface Credential {
  /** SASL user name. */
  user: string;
  /** Password (DIGEST-MD5 needs the cleartext or the A1 hash; we keep the secret). */
  password: string;
  /** What the identity may do: `client` allocates, `tep` queries and receives pushes. */
  role: Role;
}

/** Parse a credentials file. Returns the users and the issues (with `file:line` paths). */
export function parseCredentials(
  text: string,
  source: string,
  defaultRole?: Role,
): { users: Map<string, Credential>; issues: ConfigIssue[] } {
  const users = new Map<string, Credential>();
  const issues: ConfigIssue[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const path = `${source}:${i + 1}`;
    const first = line.indexOf(":");
    const last = line.lastIndexOf(":");
    let user: string, password: string, role: string | undefined;
    if (first < 0) {
      issues.push({ path, message: "expected user:password:role" });
      return;
    }
    user = line.slice(0, first);
    if (first === last) {
      password = line.slice(first + 1);
      role = defaultRole;
    } else {
      password = line.slice(first + 1, last);
      role = line.slice(last + 1).trim();
      if (role !== "client" && role !== "tep") {
        // a password may contain ':'; only a known role suffix counts as the role
        if (defaultRole) {
          password = line.slice(first + 1);
          role = defaultRole;
        } else {
          issues.push({ path, message: `role must be client or tep, got ${JSON.stringify(role)}` });
          return;
        }
      }
    }
    user = user.trim();
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(user)) {
      issues.push({ path, message: `bad user name ${JSON.stringify(user)}` });
      return;
    }
    if (password.length === 0) {
      issues.push({ path, message: `empty password for ${user}` });
      return;
    }
    if (!role) {
      issues.push({ path, message: `missing role for ${user}` });
      return;
    }
    if (users.has(user)) {
      issues.push({ path, message: `user ${user} defined twice` });
      return;
    }
    users.set(user, { user, password, role: role as Role });
  });
  return { users, issues };
}

/** Split an inline `USER:PASS` flag value. */
export function parseUserPass(s: string): { user: string; password: string } | undefined {
  const i = s.indexOf(":");
  if (i <= 0 || i === s.length - 1) return undefined;
  return { user: s.slice(0, i), password: s.slice(i + 1) };
}
