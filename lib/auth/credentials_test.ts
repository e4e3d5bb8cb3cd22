import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCredentials, parseUserPass } from "./credentials.ts";

test("credentials: users with roles, comments and issues with file:line", () => {
  const { users, issues } = parseCredentials(
    "# users\nalice:s3cret:client\ntep1:p:a:ss:tep\n\nbob:x:admin\nalice:y:client\nnobody\n",
    "users",
  );
  assert.deepEqual([...users.values()], [
    { user: "alice", password: "s3cret", role: "client" },
    { user: "tep1", password: "p:a:ss", role: "tep" },
  ]);
  assert.deepEqual(issues, [
    { path: "users:5", message: 'role must be client or tep, got "admin"' },
    { path: "users:6", message: "user alice defined twice" },
    { path: "users:7", message: "expected user:password:role" },
  ]);
});

test("credentials: a TEP's own file may omit the role", () => {
  const { users, issues } = parseCredentials("tep2:pa:ss\n", "f", "tep");
  assert.deepEqual(issues, []);
  assert.deepEqual(users.get("tep2"), { user: "tep2", password: "pa:ss", role: "tep" });
  assert.deepEqual(parseUserPass("a:b:c"), { user: "a", password: "b:c" });
  assert.equal(parseUserPass("a:"), undefined);
  assert.equal(parseUserPass(":b"), undefined);
});
