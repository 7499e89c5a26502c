import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/support/net.js";

const cli = path.join(import.meta.dirname, "cli.ts");
const started: ChildProcess[] = [];
const tempDirs: string[] = [];

afterAll(() => {
  // only the processes this file started, by their own PID
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** The CLI under node with tsx's loader: the child's PID is the emulator's own, so a signal reaches it and nothing else. */
function run(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], { cwd: path.join(import.meta.dirname, "../.."), stdio: ["ignore", "pipe", "pipe"] });
  started.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr?.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function firstLine(stdout: () => string, exited: Promise<unknown>): Promise<string> {
  let done = false;
  void exited.then(() => (done = true));
  const until = Date.now() + 30_000;
  while (!stdout().includes("\n")) {
    if (done) throw new Error("the CLI exited before printing a line");
    if (Date.now() > until) throw new Error("the CLI printed nothing within 30 s");
    await new Promise((r) => setTimeout(r, 25));
  }
  return stdout().split("\n")[0]!;
}

function getStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    }).on("error", reject);
  });
}

describe("npm run emulator", () => {
  it("prints one JSON line saying where it is and what it knows, serves, and exits cleanly on SIGTERM", async () => {
    const port = await freePort();
    const { child, stdout, stderr, exited } = run(["--port", String(port)]);
    const line = await firstLine(stdout, exited);
    const described = JSON.parse(line) as { url: string; ewsUrl: string; caFile: string; tenants: { id: string; clients: { clientId: string }[]; users: { mail: string }[] }[] };
    expect(described.url).toBe(`https://127.0.0.1:${port}`);
    expect(described.ewsUrl).toBe(`https://127.0.0.1:${port}/EWS/Exchange.asmx`);
    expect(described.tenants[0]?.users.map((u) => u.mail)).toContain("support@contoso.test");
    const ca = fs.readFileSync(described.caFile, "utf8");
    expect(await getStatus(`${described.url}/${described.tenants[0]!.id}/v2.0/.well-known/openid-configuration`, ca)).toBe(200);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout().trimEnd().split("\n")).toHaveLength(1);
    expect(stderr()).toBe("");
    // the certificate dir it made for itself goes with it
    expect(fs.existsSync(path.dirname(described.caFile))).toBe(false);
  });

  it("keeps a --cert-dir it was given and serves a --seed file's tenants", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-cli-test-"));
    tempDirs.push(dir);
    const seedFile = path.join(dir, "seed.json");
    const tenant = { id: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", domain: "fabrikam.test", clients: [{ clientId: "c1", clientSecret: "s1" }], users: [{ mail: "ops@fabrikam.test" }] };
    fs.writeFileSync(seedFile, JSON.stringify({ tenants: [tenant] }));
    const certDir = path.join(dir, "certs");
    const { child, stdout, exited } = run(["--port", String(await freePort()), "--seed", seedFile, "--cert-dir", certDir, "--strict"]);
    const described = JSON.parse(await firstLine(stdout, exited)) as { caFile: string; tenants: { id: string; users: { mail: string }[] }[] };
    expect(described.tenants.map((t) => t.id)).toEqual([tenant.id]);
    expect(described.tenants[0]?.users.map((u) => u.mail)).toEqual(["ops@fabrikam.test"]);
    expect(described.caFile).toBe(path.join(certDir, "ca.pem"));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(fs.existsSync(path.join(certDir, "ca.pem"))).toBe(true);
  });

  it("refuses a bad flag or seed file with one line on stderr and exit code 2", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-cli-test-"));
    tempDirs.push(dir);
    const broken = path.join(dir, "broken.json");
    fs.writeFileSync(broken, JSON.stringify({ tenants: [{ id: "t", clients: [{ clientId: "c" }], users: [] }] }));
    const cases: [string[], RegExp][] = [
      [["--port", "http"], /--port must be a TCP port number/],
      [["--colour"], /Unknown option '--colour'/],
      [["--seed", path.join(dir, "missing.json")], /cannot read the seed file/],
      [["--seed", broken], /tenants\[0\]\.clients\[0\]\.clientSecret must be a non-empty string/],
    ];
    for (const [args, message] of cases) {
      const { stdout, stderr, exited } = run(args);
      expect(await exited).toBe(2);
      expect(stdout()).toBe("");
      expect(stderr()).toMatch(message);
      expect(stderr().trimEnd().split("\n")).toHaveLength(1);
    }
  });
});
