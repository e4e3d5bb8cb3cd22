/**
 * Where a Worker module is, from source or from inside a compiled binary. Run from source, it is
 * beside the module that starts it. In a `bun build --compile` binary every extra entry point
 * keeps its path from the common root of all entry points, while `import.meta.url` names the
 * executable at the root of the embedded file system (`/$bunfs/root/...`): with a program's own
 * workers only, that root is the program's directory; should other directories' workers be
 * embedded too, it is the repository root. Both candidates are returned, most likely first.
 *
 * @module
 */

/**
 * Candidate URLs of the Worker module `file` that sits beside `moduleUrl` (pass
 * `import.meta.url`) in the program directory `programDir` (e.g. `"tep"`).
 */
export function workerModuleUrls(moduleUrl: string, file: string, programDir: string): string[] {
  const beside = new URL(`./${file}`, moduleUrl).href;
  if (!moduleUrl.includes("$bunfs")) return [beside];
  return [beside, new URL(`./${programDir}/${file}`, moduleUrl).href];
}
