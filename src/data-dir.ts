import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "./config.js";
import type { Logger } from "./logger.js";

/** The file system calls `securePrivateDir` makes; tests pass one whose chmod fails. */
export type PrivateDirFs = Pick<typeof fs, "statSync" | "lstatSync" | "readdirSync" | "chmodSync">;

/** Changes listed in the log line; the count covers the rest. */
const changesLogged = 50;

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * Makes the data directory, which holds the SQLite database and the secret key, private to the user
 * Mailroom runs as: where group or others have any access, directories become 0700 and everything
 * else 0600. Symbolic links inside are left as they are and not followed (the directory itself may be
 * one). A missing directory is left to whoever creates it. When a mode cannot be changed (not the
 * owner, a read-only file system) it throws a ConfigError that names the path and what to do.
 */
export function securePrivateDir(dir: string, log: Logger, files: PrivateDirFs = fs): void {
  const top = files.statSync(dir, { throwIfNoEntry: false });
  if (!top) return;
  if (!top.isDirectory()) throw new ConfigError(`The data directory ${dir} (MAILROOM_DATA_DIR) is not a directory.`);
  const changes: string[] = [];

  const tighten = (target: string, mode: number, privateMode: number) => {
    if ((mode & 0o077) === 0) return;
    try {
      files.chmodSync(target, privateMode);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new ConfigError(
        `The data directory ${dir} holds the database and the secret key, so only the user Mailroom runs as may read it; ` +
          `but ${target} is open to others (mode ${octal(mode)}) and Mailroom cannot change that (${reason}). ` +
          `As the owner of ${dir} or as root, run: chmod -R go-rwx ${dir} — or run Mailroom as the user that owns it.`,
        { cause: err },
      );
    }
    changes.push(`${target}: ${octal(mode)} -> ${octal(privateMode)}`);
  };

  const visit = (target: string, stat: fs.Stats) => {
    if (!stat.isDirectory()) {
      tighten(target, stat.mode, 0o600);
      return;
    }
    // closed first, so that nothing inside is reachable while the rest is being fixed
    tighten(target, stat.mode, 0o700);
    for (const name of files.readdirSync(target)) {
      const child = path.join(target, name);
      const childStat = files.lstatSync(child);
      if (!childStat.isSymbolicLink()) visit(child, childStat);
    }
  };
  visit(dir, top);

  if (changes.length > 0) {
    log.warn(
      { dataDir: dir, changed: changes.length, changes: changes.slice(0, changesLogged) },
      `The data directory was open to others: made ${changes.length} path(s) in it private (directories 0700, files 0600)`,
    );
  }
}
