import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { createApp, type AppDeps, type MailroomApp } from "../../src/app.js";
import { loadConfig, type Config } from "../../src/config.js";
import { SecretBox } from "../../src/crypto/secret-box.js";
import type { Dialect } from "../../src/db/database.js";
import { createLogger } from "../../src/logger.js";
import type { Role } from "../../src/features/users/users.schema.js";
import { systemActor } from "../../src/features/audit/audit.service.js";
import { openTestDb, type TestDb } from "./dialects.js";

export const adminPassword = "admin-password-1";

export interface TestApp {
  app: MailroomApp;
  store: TestDb;
  config: Config;
  /** the app's secret key: another node on the same database needs the same (MAILROOM_SECRET_KEY) */
  secretBox: SecretBox;
  /** every log line the app wrote, as text */
  logText(): string;
  /** signs in a user of the role (created on first use) and returns the bearer token */
  tokenFor(role: Role): Promise<string>;
  request(opts: InjectOptions & { token?: string | undefined }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function createTestApp(
  dialect: Dialect,
  overrides: Partial<Config> = {},
  extraDeps: Partial<AppDeps> = {},
): Promise<TestApp> {
  const store = await openTestDb(dialect);
  const config: Config = {
    ...loadConfig({ MAILROOM_DATA_DIR: store.dataDir, MAILROOM_ADMIN_PASSWORD: adminPassword }),
    database: store.databaseConfig,
    runnersEnabled: false,
    loginRateLimitPerMinute: 1000,
    ...overrides,
  };
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString("utf8"));
      cb();
    },
  });
  const log = createLogger("debug", sink);
  const secretBox = new SecretBox(randomBytes(32));
  const app = await createApp({ config, db: store.db, log, secretBox, ...extraDeps });
  await app.bootstrapAdmin();
  const tokens = new Map<Role, string>();

  const request: TestApp["request"] = async ({ token, ...opts }) => {
    const headers = { ...(opts.headers ?? {}) } as Record<string, string>;
    if (token) headers["authorization"] = `Bearer ${token}`;
    return app.http.inject({ ...opts, headers });
  };

  return {
    app,
    store,
    config,
    secretBox,
    logText: () => lines.join(""),
    request,
    async tokenFor(role) {
      const known = tokens.get(role);
      if (known) return known;
      const username = role === "admin" ? "admin" : `${role}1`;
      const password = role === "admin" ? adminPassword : `${role}-password-1`;
      if (role !== "admin") await app.services.users.create(systemActor, { username, password, role });
      const res = await request({ method: "POST", url: "/api/v1/auth/login", payload: { username, password } });
      if (res.statusCode !== 200) throw new Error(`login as ${role} failed: ${res.statusCode} ${res.body}`);
      const token = res.json<{ token: string }>().token;
      tokens.set(role, token);
      return token;
    },
    async close() {
      await app.close();
      await store.cleanup();
    },
  };
}
