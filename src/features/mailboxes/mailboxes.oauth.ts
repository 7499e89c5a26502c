import type { SecretBox } from "../../crypto/secret-box.js";
import type { OAuthAccount, TokenService } from "../../oauth/token-service.js";
import { draftFromRow } from "./mailboxes.draft.js";
import { openSecret } from "./mailboxes.secrets.js";
import type { MailboxRow } from "./mailboxes.store.js";

/** What the mailboxes feature needs of the token service. */
export type OAuthCredentials = Pick<TokenService, "credentials" | "acquire" | "diagnose">;

/** The token service's view of an OAuth 2.0 mailbox, with its secrets opened; null for a password mailbox. */
export function oauthAccount(row: MailboxRow, secretBox: SecretBox): OAuthAccount | null {
  const { auth } = draftFromRow(row);
  if (auth.method !== "oauth2") return null;
  return {
    protocol: row.type,
    direction: row.client_type,
    grant: auth.grant,
    clientId: auth.clientId,
    directoryId: auth.directoryId,
    tenantAuthority: auth.tenantAuthority,
    clientSecret: row.client_secret_sealed === null ? null : openSecret(row, "client_secret", row.client_secret_sealed, secretBox),
    username: row.login,
    password: auth.grant === "password" && row.password_sealed !== null ? openSecret(row, "password", row.password_sealed, secretBox) : null,
  };
}
