import type { Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { openTestDb, testDialects } from "../../../test/support/dialects.js";
import { migrate } from "../database.js";
import { migrations } from "./index.js";

describe.each(testDialects())("migration 0008: OAuth verifications (%s)", (dialect) => {
  it("leaves existing mailboxes unmigrated, and keeps each verification with its mailbox", async () => {
    const t = await openTestDb(dialect, { migrated: false });
    try {
      // the database as the release before wrote it
      const before = migrations.filter((m) => m.name < "0008");
      for (const m of before) await m.up(t.db.kysely as unknown as Kysely<unknown>, dialect);
      await t.db.kysely.schema.createTable("mailroom_migrations").addColumn("name", "text", (c) => c.primaryKey()).addColumn("applied_at", "text").execute();
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows of an older schema
      const old = t.db.kysely as unknown as Kysely<any>;
      const at = "2026-11-01T10:00:00.000Z";
      for (const m of before) await old.insertInto("mailroom_migrations").values({ name: m.name, applied_at: at }).execute();
      await old
        .insertInto("mailboxes")
        .values({
          id: "m1", name: "support", client_type: "inbound", type: "IMAP", login: "support@acme.test", host: "imap.acme.test", port: 993,
          security: "tls", max_size_mb: 5, from_address: null, from_address_folder_id: null, auth_method: "password", oauth_grant: null,
          oauth_client_id: null, oauth_directory_id: null, oauth_tenant_authority: null, oauth_secret_expires_at: null, password_sealed: "x",
          client_secret_sealed: null, test_mailbox: 0, options: "{}", created_at: at, updated_at: at,
        })
        .execute();

      expect(await migrate(t.db)).toContain("0008-oauth-verifications");
      const k = t.db.kysely;
      expect(await k.selectFrom("mailboxes").select("oauth_migrated_from").where("id", "=", "m1").executeTakeFirstOrThrow()).toEqual({ oauth_migrated_from: null });

      const verification = (id: string, mailboxId: string, grant = "client_credentials") =>
        k
          .insertInto("oauth_verifications")
          .values({
            id, mailbox_id: mailboxId, oauth_grant: grant as "client_credentials", client_id: "c", directory_id: "d",
            tenant_authority: "https://login.microsoftonline.com/", ok: 1, steps: "[]", verified_at: at, test_mailbox: 1,
          })
          .execute();
      await verification("v1", "m1");
      await expect(verification("v2", "no-such-mailbox")).rejects.toThrow();
      await expect(verification("v3", "m1", "implicit")).rejects.toThrow();
      await k.deleteFrom("mailboxes").where("id", "=", "m1").execute();
      expect(await k.selectFrom("oauth_verifications").select("id").execute()).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });
});
