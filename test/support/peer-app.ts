import { createApp, type AppDeps, type MailroomApp } from "../../src/app.js";
import type { Config } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { createLogger } from "../../src/logger.js";
import type { TestApp } from "./test-app.js";

export interface PeerApp {
  app: MailroomApp;
  /** closes the app and its own connections; the database stays (the test app owns it) */
  close(): Promise<void>;
}

/**
 * Another node on a test app's database: its own app, connection pool and (on PostgreSQL) change feed,
 * as a second `mailroom start` would have. Close it before the test app, which drops the database.
 */
export async function createPeerApp(t: TestApp, overrides: Partial<Config> = {}, extraDeps: Partial<AppDeps> = {}): Promise<PeerApp> {
  const db = openDatabase(t.store.databaseConfig);
  try {
    const app = await createApp({ config: { ...t.config, ...overrides }, db, log: createLogger("silent"), secretBox: t.secretBox, ...extraDeps });
    return {
      app,
      async close() {
        await app.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
