import { draftFromRow } from "./mailboxes.draft.js";
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
  return view;
}

/** What the API shows of a mailbox: never a secret, only whether one is set. */
export function toMailboxView(r: MailboxRecord): MailboxView {
  const d = draftFromRow(r);
  const auth: MailboxView["auth"] =
    d.auth.method === "oauth2"
      ? {
          method: "oauth2",
          grant: d.auth.grant,
          clientId: d.auth.clientId,
          directoryId: d.auth.directoryId,
          tenantAuthority: d.auth.tenantAuthority,
          ...(d.auth.secretExpiresAt === null ? {} : { secretExpiresAt: d.auth.secretExpiresAt }),
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
    enabled: r.enabled,
    status: statusOf(r),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
