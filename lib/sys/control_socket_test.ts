import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { callControl, serveControl } from "./control_socket.ts";

test("control socket: requests are answered over a real Unix socket", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-ctl-"));
  const sock = path.join(dir, "ctl.sock");
  const server = await serveControl(
    sock,
    (req) =>
      req.command === "echo"
        ? { result: 0, text: "echo\n", arguments: req.arguments }
        : { result: 2, text: `unknown command ${req.command}` },
  );
  try {
    assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
    assert.deepEqual(await callControl(sock, { command: "echo", arguments: { a: 1 } }), {
      result: 0,
      text: "echo\n",
      arguments: { a: 1 },
    });
    assert.equal((await callControl(sock, { command: "nope" })).result, 2);
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(callControl(sock, { command: "echo" }), /is the daemon running/);
});
