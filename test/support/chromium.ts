import { chromium, type Browser } from "playwright-core";
import { requireDebianPackages } from "./system-packages.js";

export const chromiumPath = "/usr/bin/chromium";

/** Debian's chromium, installed when missing: a run without a browser fails, it does not skip. */
export function ensureChromium(): void {
  requireDebianPackages(chromiumPath, ["chromium"]);
}

export async function launchChromium(): Promise<Browser> {
  ensureChromium();
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // as root, Chromium runs only without its sandbox; nothing here needs the network beyond 127.0.0.1
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
}
