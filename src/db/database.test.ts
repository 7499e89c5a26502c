import { describe, expect, it } from "vitest";
import { sql } from "kysely";
import { migrate, openDatabase } from "./database.js";
import { migrations } from "./migrations/index.js";
import { openTestDb, testDialects } from "../../test/support/dialects.js";

describe.each(testDialects())("database (%s)", (dialect) => {
  // SQLite serves one process, whose connections share one thread: there the race is between processes
  // (start and `mailroom migrate`), which the write-first transactions cover; in-process it would deadlock.
  it("applies every migration exactly once, also when two nodes start at the same moment", async () => {
    const t = await openTestDb(dialect, { migrated: false });
    try {
      const other = openDatabase(t.databaseConfig);
      const [a, b] = dialect === "postgres" ? await Promise.all([migrate(t.db), migrate(other)]) : [await migrate(t.db), await migrate(other)];
      expect([...a, ...b].sort()).toEqual(migrations.map((m) => m.name).sort());
      expect(await migrate(other)).toEqual([]);
      await other.close();
      const names = await t.db.kysely.selectFrom("mailroom_migrations" as never).select("name" as never).execute();
      expect(names.map((r) => (r as { name: string }).name)).toEqual(migrations.map((m) => m.name));
    } finally {
      await t.cleanup();
    }
  });

  it("enforces the one-outbound-mailbox rule in the schema itself", async () => {
    const t = await openTestDb(dialect);
    try {
      const now = new Date().toISOString();
      const row = (id: string) => ({
        id, name: id, client_type: "outbound" as const, type: "SMTP" as const, login: "x", host: "h", port: 25, security: "none" as const,
        max_size_mb: null, from_address: "a@b.test", from_address_folder_id: null, auth_method: "password" as const, oauth_grant: null,
        oauth_client_id: null, oauth_directory_id: null, oauth_tenant_authority: null, oauth_secret_expires_at: null,
        password_sealed: null, client_secret_sealed: null, test_mailbox: 0, options: "{}", created_at: now, updated_at: now,
      });
      await t.db.kysely.insertInto("mailboxes").values(row("out1")).execute();
      await expect(t.db.kysely.insertInto("mailboxes").values(row("out2")).execute()).rejects.toThrow();
    } finally {
      await t.cleanup();
    }
  });

  it.runIf(dialect === "postgres")("survives the server ending its idle connections, as a restart would", async () => {
    const t = await openTestDb(dialect);
    const broken: Error[] = [];
    const db = openDatabase(t.databaseConfig, (err) => broken.push(err));
    try {
      await sql`select 1`.execute(db.kysely); // leaves an idle connection in the pool
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`.execute(t.db.kysely);
      const deadline = Date.now() + 5000;
      while (broken.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(broken[0]?.message).toMatch(/terminating connection/);
      const again = await sql<{ n: number }>`select 1 as n`.execute(db.kysely);
      expect(again.rows[0]?.n).toBe(1);
    } finally {
      await db.close();
      await t.cleanup();
    }
  });
});
