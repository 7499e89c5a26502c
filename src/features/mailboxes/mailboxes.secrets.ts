import type { Kysely } from "kysely";
import { SecretBox } from "../../crypto/secret-box.js";
import type { Database } from "../../db/schema.js";
import type { Logger } from "../../logger.js";
import type { MailboxesStore, MailboxRow } from "./mailboxes.store.js";

export type MailboxSecret = "password" | "client_secret";

const columnOf = { password: "password_sealed", client_secret: "client_secret_sealed" } as const;

/**
 * What a sealed secret is bound to (AES-GCM associated data): this mailbox and this column. A sealed
 * password copied to another mailbox, or into the client secret column, does not open there.
 */
export function secretContext(mailboxId: string, secret: MailboxSecret): string {
  return `mailbox:${mailboxId}:${secret}`;
}

export function sealSecret(secretBox: SecretBox, mailboxId: string, secret: MailboxSecret, plain: string): string {
  return secretBox.seal(plain, secretContext(mailboxId, secret));
}

/** The stored password of `row`, opened; an error that says what to do when it does not open. */
export function openPassword(row: MailboxRow, sealed: string, secretBox: SecretBox): string {
  return openSecret(row, "password", sealed, secretBox);
}

/** A stored secret of `row`, opened; an error that says what to do when it does not open. */
export function openSecret(row: MailboxRow, secret: MailboxSecret, sealed: string, secretBox: SecretBox): string {
  const what = secret === "password" ? "password" : "client secret";
  try {
    return secretBox.open(sealed, secretContext(row.id, secret));
  } catch (err) {
    throw new Error(
      `The stored ${what} of mailbox ${row.name} cannot be read with this server's secret key (was the key changed, or the sealed ${what} copied from elsewhere?); type the ${what} again.`,
      { cause: err },
    );
  }
}

/**
 * Seals every secret stored in the v1 format (bound to nothing) again as v2, bound to its mailbox and
 * column, in one transaction. A v1 secret that does not open with this key is left as it is: the
 * mailbox reports it as unreadable, and the other secrets are still re-sealed.
 */
export async function resealLegacySecrets(
  db: Kysely<Database>,
  store: MailboxesStore,
  secretBox: SecretBox,
  log: Logger,
): Promise<{ resealed: number; unreadable: number }> {
  const counts = await db.transaction().execute(async (trx) => {
    let resealed = 0;
    let unreadable = 0;
    for (const row of await store.withLegacySecrets(trx)) {
      for (const secret of ["password", "client_secret"] as const) {
        const column = columnOf[secret];
        const sealed = row[column];
        if (sealed === null || !SecretBox.isLegacy(sealed)) continue;
        let plain: string;
        try {
          plain = secretBox.openLegacy(sealed);
        } catch (err) {
          unreadable += 1;
          log.warn(
            { mailboxId: row.id, column, err },
            "a stored v1 secret cannot be read with this server's secret key; it was left as it is, and must be typed again",
          );
          continue;
        }
        if (await store.replaceSealed(trx, row.id, column, sealed, sealSecret(secretBox, row.id, secret, plain))) resealed += 1;
      }
    }
    return { resealed, unreadable };
  });
  if (counts.resealed > 0) log.info({ resealed: counts.resealed }, "stored secrets re-sealed (v1 to v2), each bound to its mailbox");
  return counts;
}
