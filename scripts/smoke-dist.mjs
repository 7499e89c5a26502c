// The tests run the TypeScript sources; this checks what `npm run build` made of them: that
// dist/main.js starts (ready, admin sign-in, a clean stop on SIGTERM), and that the compiled parse
// pool finds and starts its compiled worker, which the tests, loading parser-worker.ts, never do.
/* global fetch, AbortSignal -- Node 20's, which this config does not declare for plain scripts */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
// a cold start on a busy CI machine migrates a new SQLite database and hashes the admin password
const readyDeadlineMs = 60_000;
const stopDeadlineMs = 20_000;

class SmokeFailure extends Error {}

function fail(message) {
  throw new SmokeFailure(message);
}

function compiled(relative) {
  const file = path.join(dist, relative);
  if (!fs.existsSync(file)) fail(`${path.relative(root, file)} is missing: run \`npm run build\` first`);
  return file;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function describeExit({ code, signal }) {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

/** What went wrong with a request: the connection's error code where there is one. */
function requestProblem(err) {
  return err?.cause?.code ?? err?.message ?? String(err);
}

async function smokeServer() {
  const mainJs = compiled("main.js");
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-smoke-"));
  const password = randomBytes(18).toString("base64url");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // Mailroom refuses unknown MAILROOM_* variables, and the caller's settings (a PostgreSQL URL, say) are not this check's
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("MAILROOM_")));
  Object.assign(env, {
    MAILROOM_DATA_DIR: dataDir,
    MAILROOM_HOST: "127.0.0.1",
    MAILROOM_PORT: String(port),
    MAILROOM_ADMIN_PASSWORD: password,
  });

  let output = "";
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  const server = spawn(process.execPath, [mainJs, "start"], { cwd: dataDir, env, stdio: ["ignore", "pipe", "pipe"] });
  server.stdout.on("data", keep);
  server.stderr.on("data", keep);
  let exit = null;
  const exited = new Promise((resolve) => {
    server.once("error", (err) => resolve((exit = { code: null, signal: null, error: err })));
    server.once("exit", (code, signal) => resolve((exit = { code, signal })));
  });

  try {
    const deadline = Date.now() + readyDeadlineMs;
    let last = "no answer yet";
    for (;;) {
      if (exit) fail(`dist/main.js start ended (${exit.error?.message ?? describeExit(exit)}) before GET /readyz answered 200`);
      if (Date.now() > deadline) fail(`GET /readyz did not answer 200 within ${readyDeadlineMs / 1000} s (last: ${last})`);
      try {
        const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) });
        const text = await res.text();
        if (res.status === 200) break;
        last = `${res.status} ${text.slice(0, 200)}`;
      } catch (err) {
        last = requestProblem(err);
      }
      await Promise.race([sleep(250), exited]);
    }

    const login = (pw) =>
      fetch(`${base}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: pw }),
        signal: AbortSignal.timeout(15_000),
      });
    const res = await login(password);
    const text = await res.text();
    if (res.status !== 200) fail(`signing in as admin with MAILROOM_ADMIN_PASSWORD answered ${res.status}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text);
    if (typeof body.token !== "string" || body.token === "" || body.user?.username !== "admin") {
      fail(`signing in as admin answered 200 without a session for admin: ${text.slice(0, 300)}`);
    }
    // a sign-in that lets anything through would pass the check above
    const wrong = await login(`${password}-wrong`);
    await wrong.text();
    if (wrong.status !== 401) fail(`signing in with a wrong password answered ${wrong.status}, not 401`);

    // the web app `npm run build` put in dist/web: the page, and the script it names
    const page = await fetch(`${base}/mailboxes`, { signal: AbortSignal.timeout(15_000) });
    const html = await page.text();
    if (page.status !== 200 || !html.includes('<div id="root">')) fail(`GET /mailboxes did not serve the web app (${page.status}): ${html.slice(0, 300)}`);
    const script = /<script type="module" crossorigin src="([^"]+)"/.exec(html)?.[1];
    if (!script) fail(`the web app's index.html names no script: ${html.slice(0, 300)}`);
    const js = await fetch(`${base}${script}`, { signal: AbortSignal.timeout(15_000) });
    await js.arrayBuffer();
    if (js.status !== 200 || !js.headers.get("content-type")?.startsWith("text/javascript")) fail(`GET ${script} answered ${js.status} ${js.headers.get("content-type")}`);
    if (!output.includes("Mailroom is ready: open http://")) fail("dist/main.js start did not print the address to open");

    process.kill(server.pid, "SIGTERM");
    const stopped = await Promise.race([exited, sleep(stopDeadlineMs, null, { ref: false })]);
    if (!stopped) fail(`dist/main.js did not stop within ${stopDeadlineMs / 1000} s of SIGTERM`);
    if (stopped.code !== 0) fail(`dist/main.js ended with ${describeExit(stopped)} after SIGTERM, not exit code 0`);
  } catch (err) {
    if (err instanceof SmokeFailure) err.message += `\n--- server output (last lines) ---\n${output.trim().split("\n").slice(-30).join("\n") || "(none)"}`;
    throw err;
  } finally {
    if (!exit) {
      process.kill(server.pid, "SIGKILL");
      await exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function smokeParseWorker() {
  const { createParser } = await import(pathToFileURL(compiled(path.join("ingest", "parser-pool.js"))).href);
  const bodyLine = `smoke ${randomBytes(6).toString("hex")}`;
  const raw = Buffer.from(
    [
      "From: Ann Customer <ann@example.com>",
      "To: support@example.com",
      "Subject: =?UTF-8?Q?Smoke_test_=E2=9C=93?=",
      "Message-ID: <smoke@example.com>",
      "Date: Mon, 1 Jan 2024 10:00:00 +0000",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "",
      bodyLine,
      "",
    ].join("\r\n"),
  );
  const parser = createParser({ workers: 1 });
  try {
    const mail = await parser
      .parse({ raw, size: raw.length, truncated: false }, { maxSizeBytes: 5 * 1024 * 1024, ownAddresses: new Set() })
      .catch((err) => fail(`the compiled parse pool could not parse a message: ${err?.message ?? String(err)}`));
    // a worker that dies on the message still yields the subject, read from the raw header, but wrapped
    if (mail.flags.wrapped !== null) fail(`the compiled parse worker did not parse the message: wrapped as ${mail.flags.wrapped}: ${mail.text}`);
    if (mail.subject !== "Smoke test ✓") fail(`the compiled parse worker returned the subject ${JSON.stringify(mail.subject)}, not "Smoke test ✓"`);
    if (!mail.text.includes(bodyLine)) fail(`the compiled parse worker returned the text ${JSON.stringify(mail.text.slice(0, 200))} without the body`);
  } finally {
    await parser.close();
  }
}

try {
  await smokeServer();
  process.stdout.write("smoke-dist: dist/main.js started, answered /readyz, signed admin in, served the web app and stopped cleanly on SIGTERM\n");
  await smokeParseWorker();
  process.stdout.write("smoke-dist: a compiled parse worker parsed a message\n");
} catch (err) {
  process.stderr.write(`smoke-dist: FAILED: ${err instanceof SmokeFailure ? err.message : (err?.stack ?? String(err))}\n`);
  process.exitCode = 1;
}
