import { execFileSync } from "node:child_process";
import fs from "node:fs";

let updated = false;

/** A file the packages ship, or a check for installs whose paths vary (e.g. one directory per major version). */
export type InstalledCheck = string | (() => boolean);

function isInstalled(check: InstalledCheck): boolean {
  return typeof check === "string" ? fs.existsSync(check) : check();
}

/** The last lines apt-get wrote to stderr: the reason, without the progress that precedes it. */
function aptReason(err: unknown): string {
  const stderr = (err as { stderr?: Buffer | string } | null)?.stderr?.toString().trim();
  if (stderr) return stderr.split("\n").slice(-5).join("\n");
  return err instanceof Error ? err.message : String(err);
}

/**
 * Installs Debian packages unless `installed` says they are there. Throws an error that says why
 * they could not be installed and what to run instead.
 */
export function requireDebianPackages(installed: InstalledCheck, packages: string[]): void {
  if (isInstalled(installed)) return;
  const command = `apt-get install ${packages.join(" ")}`;
  const missing = typeof installed === "string" ? `${installed} is missing` : `${packages.join(", ")} is not installed`;
  if (process.getuid?.() !== 0) {
    throw new Error(`${missing} and the tests do not run as root, so they cannot install it: run \`${command}\` as root.`);
  }
  try {
    if (!updated) {
      execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "pipe"], timeout: 300_000 });
      updated = true;
    }
    execFileSync("apt-get", ["install", "-y", "-qq", ...packages], {
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  } catch (err) {
    throw new Error(`${missing} and \`${command}\` failed:\n${aptReason(err)}\nInstall it by hand (as root) and run the tests again.`);
  }
  if (!isInstalled(installed)) {
    throw new Error(`${missing} even after \`${command}\` succeeded: check what the packages installed.`);
  }
}

/** The same for what some tests can do without: says why on stderr and returns false. */
export function ensureDebianPackages(installed: InstalledCheck, packages: string[]): boolean {
  try {
    requireDebianPackages(installed, packages);
    return true;
  } catch (err) {
    process.stderr.write(`\n!!! ${(err as Error).message}\n`);
    return false;
  }
}
