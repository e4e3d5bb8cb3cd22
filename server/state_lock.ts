/**
 * One server per state directory: a `lock` file holding the owner's process id, created with
 * O_EXCL. A lock left by a process that no longer runs (after `kill -9` or a crash) is taken
 * over; a lock held by a running process refuses the start.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import process from "node:process";

/** A held lock. */
export interface StateLock {
  /** Remove the lock file (if it is still ours). */
  release(): void;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false; // our own earlier run in this process (tests)
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Take the lock of `dir` (created if missing). Returns the lock, or a message naming the
 * process that holds it.
 */
export function lockStateDir(dir: string): { ok: true; lock: StateLock } | {
  ok: false;
  message: string;
} {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, "lock");
  const mine = `${process.pid}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, "wx", 0o600);
      fs.writeSync(fd, mine);
      fs.closeSync(fd);
      return {
        ok: true,
        lock: {
          release() {
            try {
              if (fs.readFileSync(file, "utf8") === mine) fs.unlinkSync(file);
            } catch { /* already gone */ }
          },
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let pid = NaN;
    try {
      pid = Number.parseInt(fs.readFileSync(file, "utf8"), 10);
    } catch { /* vanished: retry */ }
    if (alive(pid)) {
      return {
        ok: false,
        message: `state directory ${dir} is in use by process ${pid} (if that process is not ` +
          `a dstm-server, remove ${file})`,
      };
    }
    try {
      fs.unlinkSync(file); // stale: its owner is gone
    } catch { /* raced with another starter: retry */ }
  }
  return { ok: false, message: `cannot take the lock ${file}` };
}
