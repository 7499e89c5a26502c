import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "./net.js";
import { ensureDebianPackages } from "./system-packages.js";

const bin = "/usr/lib/postgresql/15/bin";

export interface PostgresServer {
  url: string;
  stop(): void;
}

/**
 * A private PostgreSQL cluster in a temp dir on 127.0.0.1, run as the `postgres` user
 * (initdb refuses root). Returns null, loudly, where PostgreSQL cannot be installed.
 */
export async function startPostgres(): Promise<PostgresServer | null> {
  if (!ensureDebianPackages(`${bin}/pg_ctl`, ["postgresql"])) {
    process.stderr.write("\n!!! PostgreSQL is not available: the PostgreSQL half of the store tests is SKIPPED.\n\n");
    return null;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-pg-"));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    if (asRoot) {
      execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], { stdio: "pipe" });
    } else {
      execFileSync(cmd, args, { stdio: "pipe" });
    }
  };
  if (asRoot) execFileSync("chown", ["postgres:postgres", dir]);
  fs.chmodSync(dir, 0o700);
  const data = path.join(dir, "data");
  run(`${bin}/initdb`, ["-D", data, "-U", "mailroom", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  run(`${bin}/pg_ctl`, [
    "-D", data,
    "-l", path.join(dir, "server.log"),
    "-o", `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
    "-w", "start",
  ]);
  return {
    url: `postgres://mailroom@127.0.0.1:${port}/postgres`,
    stop() {
      const args = ["-D", data, "-m", "fast", "-w", "stop"];
      if (asRoot) spawnSync("runuser", ["-u", "postgres", "--", `${bin}/pg_ctl`, ...args], { stdio: "ignore" });
      else spawnSync(`${bin}/pg_ctl`, args, { stdio: "ignore" });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
