import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "./config.js";
import { securePrivateDir, type PrivateDirFs } from "./data-dir.js";
import { createLogger } from "./logger.js";

const modeOf = (p: string) => fs.lstatSync(p).mode & 0o777;

describe("securePrivateDir", () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  function tempDir(): string {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-data-dir-"));
    made.push(base);
    return base;
  }

  function capture() {
    const lines: string[] = [];
    return { log: createLogger("info", { write: (l: string) => lines.push(l) }), text: () => lines.join("") };
  }

  function write(file: string, mode: number) {
    fs.writeFileSync(file, "x");
    fs.chmodSync(file, mode);
  }

  it("makes an open data dir private: directories 0700, files 0600, symbolic links not followed", () => {
    const base = tempDir();
    const dir = path.join(base, "data");
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o755);
    for (const name of ["mailroom.db", "mailroom.db-wal", "mailroom.db-shm", "notes.txt"]) write(path.join(dir, name), 0o644);
    write(path.join(dir, "secret.key"), 0o600);
    fs.mkdirSync(path.join(dir, "exports"));
    fs.chmodSync(path.join(dir, "exports"), 0o755);
    write(path.join(dir, "exports", "report.csv"), 0o664);
    const outside = path.join(base, "outside.txt");
    write(outside, 0o644);
    fs.symlinkSync(outside, path.join(dir, "link-to-outside"));

    const { log, text } = capture();
    securePrivateDir(dir, log);

    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(path.join(dir, "exports"))).toBe(0o700);
    for (const name of ["mailroom.db", "mailroom.db-wal", "mailroom.db-shm", "notes.txt", "secret.key", "exports/report.csv"]) {
      expect(modeOf(path.join(dir, name)), name).toBe(0o600);
    }
    expect(modeOf(outside)).toBe(0o644);
    const logged = JSON.parse(text()) as { level: number; dataDir: string; changed: number; changes: string[]; msg: string };
    expect(logged).toMatchObject({ dataDir: dir, changed: 7, msg: expect.stringMatching(/made 7 path\(s\) in it private/) });
    expect(logged.changes).toContain(`${dir}: 0755 -> 0700`);
    expect(logged.changes).toContain(`${path.join(dir, "exports", "report.csv")}: 0664 -> 0600`);

    // a second start finds nothing to change, and says nothing
    const again = capture();
    securePrivateDir(dir, again.log);
    expect(again.text()).toBe("");
  });

  it("leaves a data dir that does not exist yet to whoever creates it", () => {
    const { log, text } = capture();
    expect(() => securePrivateDir(path.join(tempDir(), "missing"), log)).not.toThrow();
    expect(text()).toBe("");
  });

  it("stops with the path and what to do when a mode cannot be changed", () => {
    const dir = path.join(tempDir(), "data");
    fs.mkdirSync(dir, { mode: 0o700 });
    write(path.join(dir, "mailroom.db"), 0o644);
    // as root the refusal cannot happen for real: a file system whose chmod says EPERM, as for a file owned by another user
    const refusing: PrivateDirFs = {
      statSync: fs.statSync,
      lstatSync: fs.lstatSync,
      readdirSync: fs.readdirSync,
      chmodSync: (target) => {
        throw Object.assign(new Error(`EPERM: operation not permitted, chmod '${String(target)}'`), { code: "EPERM" });
      },
    };
    const { log } = capture();
    let thrown: unknown;
    try {
      securePrivateDir(dir, log, refusing);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const message = (thrown as Error).message;
    expect(message).toContain(`${path.join(dir, "mailroom.db")} is open to others (mode 0644)`);
    expect(message).toContain("EPERM");
    expect(message).toContain(`chmod -R go-rwx ${dir}`);
    // nothing was changed behind the error
    expect(modeOf(path.join(dir, "mailroom.db"))).toBe(0o644);
  });
});
