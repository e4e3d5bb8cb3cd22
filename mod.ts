/**
 * dstm: DSTM with the Multiple-TEP extension (draft-jaehwoon-dstm-multitep-02).
 *
 * The public API of `lib/`: the pieces the three binaries are built from, usable on their own.
 * @module
 */
export * from "./lib/cli/command.ts";
export * from "./lib/cli/exit_codes.ts";
export * from "./lib/cli/run_main.ts";
export { VERSION } from "./lib/version.ts";
