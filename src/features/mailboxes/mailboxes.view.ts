import { draftFromRow } from "./mailboxes.draft.js";
import { oauthMigrationOf } from "./mailboxes.migration.js";
import type { MailboxView } from "./mailboxes.schema.js";
import type { MailboxRecord } from "./mailboxes.store.js";

function statusOf(r: MailboxRecord): MailboxView["status"] {
  const { warnings } = r;
  if (!r.enabled) return { state: "disabled", warnings };
  // a runner that has not reported yet, or a "disabled" left by a runner that stopped before the mailbox was enabled again
  if (!r.status || r.status.state === "disabled") return { state: "connecting", warnings };
  const view: MailboxView["status"] = { state: r.status.state, warnings };
  if (r.status.code !== null) view.code = r.status.code;
  if (r.status.message !== null) view.message = r.status.message;
  if (r.status.lastSyncAt !== null) view.lastSyncAt = r.status.lastSyncAt;
  if (r.status.nodeId !== null) view.nodeId = r.status.nodeId;
  // null once the node has stopped (its row goes with a clean stop) or when it never had a name here
  if (r.status.nodeName !== null) view.nodeName = r.status.nodeName;
  return view;
}

/** A client secret warns this long before it expires: time to create a new one in Entra ID and enter it here. */
export const secretWarningDays = 30;

/**
 * Where the client secret stands against its expiry date. Entra ID keeps honouring tokens bought before
 * the secret expired, so without this the first sign of an expired secret is mail that stops an hour later.
 */
export function secretExpiry(expiresAt: string, now: Date): { state: "ok" | "expiring" | "expired"; daysLeft: number } {
  // a date without a time is the end of that day (UTC): Entra's portal shows expiry as a date
  const end = /^\d{4}-\d{2}-\d{2}$/.test(expiresAt) ? Date.parse(`${expiresAt}T23:59:59Z`) : Date.parse(expiresAt);
  const daysLeft = Math.floor((end - now.getTime()) / 86_400_000);
  const state = end <= now.getTime() ? "expired" : daysLeft < secretWarningDays ? "expiring" : "ok";
  return { state, daysLeft: Math.max(daysLeft, 0) };
}

/** What the API shows of a mailbox: never a secret, only whether one is set. */
export function toMailboxView(r: MailboxRecord, now: Date): MailboxView {
  const d = draftFromRow(r);
  const oauthMigration = oauthMigrationOf(r);
  const auth: MailboxView["auth"] =
    d.auth.method === "oauth2"
      ? {
          method: "oauth2",
          grant: d.auth.grant,
          clientId: d.auth.clientId,
          directoryId: d.auth.directoryId,
          tenantAuthority: d.auth.tenantAuthority,
          ...(d.auth.secretExpiresAt === null ? {} : { secretExpiresAt: d.auth.secretExpiresAt, secretExpiry: secretExpiry(d.auth.secretExpiresAt, now) }),
        }
      : { method: "password" };
  return {
    id: r.id,
    name: d.name,
    clientType: d.clientType,
    type: d.type,
    mailbox: d.login,
    host: d.host,
    port: d.port,
    security: d.security,
    maxSizeMb: d.maxSizeMb,
    fromAddress: d.fromAddress,
    fromAddressFolderId: d.fromAddressFolderId,
    ...(d.options ? { options: d.options } : {}),
    auth,
    passwordSet: r.password_sealed !== null,
    clientSecretSet: r.client_secret_sealed !== null,
    testMailbox: d.testMailbox,
    ...(oauthMigration ? { oauthMigration } : {}),
    enabled: r.enabled,
    status: statusOf(r),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
