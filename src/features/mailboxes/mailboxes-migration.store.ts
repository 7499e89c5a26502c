import type { Kysely, Selectable } from "kysely";
import type { Database, OAuthVerificationsTable } from "../../db/schema.js";

export type OAuthVerificationRow = Selectable<OAuthVerificationsTable>;

/** The Azure app a verification was made with: what makes a test mailbox's pass count for another mailbox. */
export interface AzureApp {
  clientId: string;
  directoryId: string;
  tenantAuthority: string;
}

/** The SQL of the OAuth migration assistant: its record of dry runs. */
export class OAuthVerificationsStore {
  async insert(trx: Kysely<Database>, row: OAuthVerificationRow): Promise<void> {
    await trx.insertInto("oauth_verifications").values(row).execute();
  }

  /** The mailbox's latest verifications, newest first. */
  latest(db: Kysely<Database>, mailboxId: string, limit: number): Promise<OAuthVerificationRow[]> {
    return db
      .selectFrom("oauth_verifications")
      .selectAll()
      .where("mailbox_id", "=", mailboxId)
      .orderBy("verified_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
  }

  /** Whether a mailbox that was a test mailbox then passed a verification with this app at `since` or later. */
  async testMailboxPassed(db: Kysely<Database>, app: AzureApp, since: string): Promise<boolean> {
    const row = await db
      .selectFrom("oauth_verifications")
      .select("id")
      .where("client_id", "=", app.clientId)
      .where("directory_id", "=", app.directoryId)
      .where("tenant_authority", "=", app.tenantAuthority)
      .where("ok", "=", 1)
      .where("test_mailbox", "=", 1)
      .where("verified_at", ">=", since)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}
