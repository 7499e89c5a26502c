import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "./net.js";
import { requireDebianPackages } from "./system-packages.js";

/** Debian keeps each major version's programs apart, and `postgresql` pulls in whichever is current. */
const debianRoot = "/usr/lib/postgresql";

export interface PostgresServer {
  url: string;
  stop(): void;
}

/** The bin directory of the highest PostgreSQL major version installed, or null. */
export function findPostgresBin(): string | null {
  let versions: string[];
  try {
    versions = fs.readdirSync(debianRoot);
  } catch {
    return null;
  }
  const bins = versions
    .filter((version) => /^\d+(\.\d+)?$/.test(version))
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => path.join(debianRoot, version, "bin"));
  return bins.find((bin) => fs.existsSync(path.join(bin, "initdb")) && fs.existsSync(path.join(bin, "pg_ctl"))) ?? null;
}

function failureText(err: unknown): string {
  const stderr = (err as { stderr?: Buffer | string } | null)?.stderr?.toString().trim();
  return stderr || (err instanceof Error ? err.message : String(err));
}

function logTail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-15).join("\n");
  } catch {
    return "(no server log)";
  }
}

/**
 * A private PostgreSQL cluster in a temp dir on 127.0.0.1, run as the `postgres` user when root
 * (initdb refuses root). Installs Debian's `postgresql` when no version is there. Throws, saying what
 * failed and what to do, when PostgreSQL cannot be installed or the cluster does not start: a run
 * that quietly tested only SQLite would pass for one that tested both.
 */
export async function startPostgres(): Promise<PostgresServer> {
  try {
    requireDebianPackages(() => findPostgresBin() !== null, ["postgresql"]);
  } catch (err) {
    throw new Error(
      `PostgreSQL is needed by \`npm test\` (every store test runs on SQLite and PostgreSQL), and no initdb and pg_ctl were found in ${debianRoot}/<version>/bin.\n` +
        `${(err as Error).message}\n(\`npm run test:unit\` runs the tests that need no server besides SQLite.)`,
    );
  }
  const bin = findPostgresBin()!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-pg-"));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const options = { stdio: "pipe" as const, timeout: 120_000 };
    if (asRoot) execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], options);
    else execFileSync(cmd, args, options);
  };
  const data = path.join(dir, "data");
  const log = path.join(dir, "server.log");
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    const args = ["-D", data, "-m", "fast", "-w", "stop"];
    if (fs.existsSync(path.join(data, "postmaster.pid"))) {
      if (asRoot) spawnSync("runuser", ["-u", "postgres", "--", path.join(bin, "pg_ctl"), ...args], { stdio: "ignore" });
      else spawnSync(path.join(bin, "pg_ctl"), args, { stdio: "ignore" });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  let step = "initdb";
  try {
    if (asRoot) execFileSync("chown", ["postgres:postgres", dir]);
    fs.chmodSync(dir, 0o700);
    run(path.join(bin, "initdb"), ["-D", data, "-U", "mailroom", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    step = "pg_ctl start";
    run(path.join(bin, "pg_ctl"), [
      "-D", data,
      "-l", log,
      "-o", `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
      "-w", "start",
    ]);
  } catch (err) {
    const serverLog = step === "pg_ctl start" ? `\nserver log:\n${logTail(log)}` : "";
    stop();
    throw new Error(
      `The private PostgreSQL cluster for the tests (${bin}) did not start: ${step} failed:\n${failureText(err)}${serverLog}\n` +
        `Fix what the message says (as root it runs as the \`postgres\` user in a temp dir on 127.0.0.1), then run \`npm test\` again.`,
    );
  }
  return { url: `postgres://mailroom@127.0.0.1:${port}/postgres`, stop };
}
