import type { SecretBox } from "../../crypto/secret-box.js";
import type { OAuthAccount, TokenService } from "../../oauth/token-service.js";
import { draftFromRow, type AuthSettings } from "./mailboxes.draft.js";
import { openSecret } from "./mailboxes.secrets.js";
import type { MailboxRow } from "./mailboxes.store.js";

/** What the mailboxes feature needs of the token service. */
export type OAuthCredentials = Pick<TokenService, "credentials" | "acquire" | "diagnose">;

/** The token service's view of an OAuth 2.0 mailbox, with its secrets opened; null for a password mailbox. */
export function oauthAccount(row: MailboxRow, secretBox: SecretBox): OAuthAccount | null {
  const { auth } = draftFromRow(row);
  if (auth.method !== "oauth2") return null;
  return accountOf(row, auth, {
    clientSecret: row.client_secret_sealed === null ? null : openSecret(row, "client_secret", row.client_secret_sealed, secretBox),
    password: auth.grant === "password" && row.password_sealed !== null ? openSecret(row, "password", row.password_sealed, secretBox) : null,
  });
}

/** The token service's view of the mailbox `row` signing in with `auth` and these secrets (stored or typed). */
export function accountOf(
  row: MailboxRow,
  auth: Extract<AuthSettings, { method: "oauth2" }>,
  secrets: { clientSecret: string | null; password: string | null },
): OAuthAccount {
  return {
    protocol: row.type,
    direction: row.client_type,
    grant: auth.grant,
    clientId: auth.clientId,
    directoryId: auth.directoryId,
    tenantAuthority: auth.tenantAuthority,
    username: row.login,
    ...secrets,
  };
}
