import { test } from "node:test";
import assert from "node:assert/strict";
import { isCommandMessage, TUNNEL_TYPES, type TunnelMessage } from "./tunnel_message.ts";

test("tunnel message: the four registry types", () => {
  assert.deepEqual(TUNNEL_TYPES, ["v4v6", "v6v4", "v6udpv4", "v6anyv4"]);
  assert.ok(Object.isFrozen(TUNNEL_TYPES));
});

test("tunnel message: commands are create, delete, info and query", () => {
  const all: TunnelMessage[] = [
    { action: "create", type: "v4v6" },
    { action: "delete", type: "v4v6" },
    { action: "info", type: "v4v6" },
    { action: "query", type: "v4v6" },
    { action: "accept" },
    { action: "reject" },
    { action: "list", brokers: [] },
  ];
  assert.deepEqual(all.filter(isCommandMessage).map((m) => m.action), [
    "create",
    "delete",
    "info",
    "query",
  ]);
});
