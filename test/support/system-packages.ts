import { execFileSync } from "node:child_process";
import fs from "node:fs";

let updated = false;

/** Installs Debian packages when a binary they ship is missing. Returns false where that is impossible. */
export function ensureDebianPackages(binary: string, packages: string[]): boolean {
  if (fs.existsSync(binary)) return true;
  if (process.getuid?.() !== 0) {
    process.stderr.write(`\n!!! ${binary} is missing and the tests do not run as root: apt-get install ${packages.join(" ")}\n`);
    return false;
  }
  try {
    if (!updated) {
      execFileSync("apt-get", ["update", "-qq"], { stdio: "ignore", timeout: 300_000 });
      updated = true;
    }
    execFileSync("apt-get", ["install", "-y", "-qq", ...packages], {
      stdio: "ignore",
      timeout: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  } catch (err) {
    process.stderr.write(`\n!!! apt-get install ${packages.join(" ")} failed: ${String(err)}\n`);
    return false;
  }
  return fs.existsSync(binary);
}
