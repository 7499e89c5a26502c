import type { Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { openTestDb, testDialects } from "../../../test/support/dialects.js";
import { migrate } from "../database.js";
import { migrations } from "./index.js";

describe.each(testDialects())("migration 0004: users that can be disabled (%s)", (dialect) => {
  it("leaves every existing user enabled and never signed in", async () => {
    const t = await openTestDb(dialect, { migrated: false });
    try {
      // the database as the release before wrote it
      const before = migrations.filter((m) => m.name < "0004");
      for (const m of before) await m.up(t.db.kysely as unknown as Kysely<unknown>, dialect);
      await t.db.kysely.schema.createTable("mailroom_migrations").addColumn("name", "text", (c) => c.primaryKey()).addColumn("applied_at", "text").execute();
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows of an older schema
      const old = t.db.kysely as unknown as Kysely<any>;
      const at = "2026-11-01T10:00:00.000Z";
      for (const m of before) await old.insertInto("mailroom_migrations").values({ name: m.name, applied_at: at }).execute();
      await old
        .insertInto("users")
        .values({ id: "u1", username: "ann", password_hash: "x", role: "admin", display_name: null, created_at: at, updated_at: at })
        .execute();

      expect(await migrate(t.db)).toContain("0004-user-access");
      const row = await t.db.kysely.selectFrom("users").select(["disabled", "last_login_at"]).where("id", "=", "u1").executeTakeFirstOrThrow();
      expect(row).toEqual({ disabled: 0, last_login_at: null });
    } finally {
      await t.cleanup();
    }
  });
});
