import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** `npm run demo` as a newcomer runs it, ending once the mail has arrived instead of waiting for Ctrl-C. */
it("the demo starts Mailroom, the emulator and Dovecot, and shows the six emails arrive as interactions", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts", "--exit", "--port", "0"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect(code, out).toBe(0);
  expect(out.match(/✓ interaction from Microsoft 365 \(Graph\)/g), out).toHaveLength(3);
  expect(out.match(/✓ interaction from IMAP/g), out).toHaveLength(3);
  expect(out).toContain("All 6 emails are interactions");
}, 120_000);
