import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { testDialects } from "../../../test/support/dialects.js";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";
import { systemActor } from "../audit/audit.service.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mailroom <args>` from the sources, against the test app's database, as an operator would on a node. */
function mailroom(t: TestApp, args: string[]): Promise<CliResult> {
  const database = t.store.databaseConfig;
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/main.ts"), ...args], {
    cwd: root,
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: process.env["HOME"] ?? "/root",
      MAILROOM_DATA_DIR: t.store.dataDir,
      MAILROOM_DATABASE_URL: database.dialect === "postgres" ? database.url : `sqlite:${database.file}`,
      MAILROOM_LOG_LEVEL: "error",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe.each(testDialects())("mailroom users … on the command line (%s)", (dialect) => {
  let t: TestApp;
  afterEach(async () => t?.close());

  const me = (token: string) => t.request({ method: "GET", url: "/api/v1/me", token });
  const login = (username: string, password: string) =>
    t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username, password } });

  it("resets a password (printing a generated one), disables and sets roles by the API's rules, and names an unknown user", async () => {
    t = await createTestApp(dialect);
    await t.app.services.users.create(systemActor, { username: "ann", password: "ann-password-1", role: "agent" });
    const first = (await login("ann", "ann-password-1")).json<{ token: string }>().token;

    const reset = await mailroom(t, ["users", "reset-password", "--username", "ann"]);
    expect(reset.code, reset.stderr).toBe(0);
    const generated = /set a new password for ann: (\S+);/.exec(reset.stdout)?.[1];
    expect(generated, reset.stdout).toBeDefined();
    expect((await me(first)).statusCode).toBe(401);
    const second = await login("ann", generated!);
    expect(second.statusCode).toBe(200);

    const disabled = await mailroom(t, ["users", "disable", "--username", "ann"]);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect((await me(second.json<{ token: string }>().token)).statusCode).toBe(401);
    expect((await login("ann", generated!)).statusCode).toBe(401);

    const lastAdmin = await mailroom(t, ["users", "set-role", "--username", "admin", "--role", "agent"]);
    expect(lastAdmin.code).toBe(1);
    expect(lastAdmin.stderr).toContain("last enabled admin");
    expect(lastAdmin.stderr).not.toContain("    at ");

    const unknown = await mailroom(t, ["users", "enable", "--username", "ghost"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no user named "ghost"');

    const admin = await t.tokenFor("admin");
    const audit = (await t.request({ method: "GET", url: "/api/v1/audit", token: admin })).json<{
      items: { action: string; actor: { username: string }; changes: Record<string, unknown> }[];
    }>().items;
    expect(audit.find((i) => i.action === "user.password_reset")).toMatchObject({ actor: { username: "system" }, changes: { password: "[secret]" } });
    expect(audit.find((i) => i.action === "user.update")).toMatchObject({ actor: { username: "system" }, changes: { disabled: true } });
    expect(JSON.stringify(audit)).not.toContain(generated!);
    // four processes that each start from the TypeScript sources: generous, as a busy machine may need it
  }, 240_000);
});
