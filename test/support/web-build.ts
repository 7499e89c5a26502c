import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Builds the web app from web/ into a temp dir, so that the browser tests run against the sources of
 * this checkout, never a stale dist/web. Answers the dir and a function that removes it.
 */
export async function buildWebApp(): Promise<{ dir: string; remove: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-web-"));
  const { build } = await import("vite");
  await build({
    configFile: path.join(root, "web/vite.config.ts"),
    logLevel: "warn",
    build: { outDir: dir, emptyOutDir: true, sourcemap: false },
  });
  if (!fs.existsSync(path.join(dir, "index.html"))) throw new Error(`building the web app wrote no index.html to ${dir}`);
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
