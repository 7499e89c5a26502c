import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Builds the web app from web/ into a temp dir, so that the browser tests run against the sources of
 * this checkout, never a stale dist/web. In a process of its own with NODE_ENV=production: inside the
 * test runner (NODE_ENV=test) Vite would bundle React's development build, and the tests would check
 * something other than what `npm run build` serves. Answers the dir and a function that removes it.
 */
export async function buildWebApp(): Promise<{ dir: string; remove: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-web-"));
  const vite = path.join(root, "node_modules/vite/bin/vite.js");
  try {
    await promisify(execFile)(process.execPath, [vite, "build", "--config", path.join(root, "web/vite.config.ts"), "--outDir", dir, "--emptyOutDir", "--logLevel", "warn"], {
      cwd: root,
      env: { ...process.env, NODE_ENV: "production" },
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`building the web app failed: ${e.stderr?.trim() || e.message}`);
  }
  if (!fs.existsSync(path.join(dir, "index.html"))) throw new Error(`building the web app wrote no index.html to ${dir}`);
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
