#!/usr/bin/env -S deno run -A
/** Entry point of `dstm-client`. */
import process from "node:process";
import { runMain } from "../lib/cli/run_main.ts";
import { CLIENT_CLI } from "./cli.ts";
import { run } from "./app.ts";

if (import.meta.main) {
  const code = await runMain(CLIENT_CLI, process.argv.slice(2), run);
  process.exit(code);
}
