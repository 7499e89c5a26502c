// Shapes only the mailboxes page uses (see src/features/from-addresses/from-addresses.schema.ts).

import type { ClientType, Mailbox, MailboxOptions, MailboxType, OAuthGrant, Security } from "../../api/types";

/** The "Show" filter above the table; "all" is the API's clientType=all. */
export type ShowFilter = "all" | ClientType;

/** A business-attribute folder: its values are the From addresses agents may pick. */
export interface Folder {
  id: string;
  name: string;
}

/** One From address in a folder: `name` is the address itself. */
export interface FolderValue {
  id: string;
  folderId: string;
  name: string;
  displayName: string;
}

/** What the mailbox dialog is doing: adding a mailbox of a client type, or editing a saved one. */
export type FormTarget = { kind: "create"; clientType: ClientType } | { kind: "edit"; mailbox: Mailbox };

export type AuthMethod = "password" | "oauth2";

/** How an inbound mailbox is read, as the form holds it (see reading-options.ts for which fields a type uses). */
export interface ReadingDraft {
  folder: string;
  acknowledge: NonNullable<MailboxOptions["acknowledge"]>;
  /** kept as typed even while acknowledge is not "move", so that choosing "move" again brings it back */
  processedFolder: string;
  initialImport: MailboxOptions["initialImport"];
}

/**
 * The mailbox form as typed. Numbers stay text until sent, so that what the administrator typed
 * reaches the API and its own message explains what is wrong with it. Secrets start empty, always.
 */
export interface MailboxDraft {
  name: string;
  maxSizeMb: string;
  mailbox: string;
  password: string;
  type: MailboxType;
  security: Security;
  host: string;
  port: string;
  fromAddress: string;
  fromAddressFolderId: string | null;
  authMethod: AuthMethod;
  grant: OAuthGrant;
  clientId: string;
  directoryId: string;
  tenantAuthority: string;
  clientSecret: string;
  secretExpiresAt: string;
  testMailbox: boolean;
  /** inbound only */
  reading: ReadingDraft;
}

/** What POST and PATCH /api/v1/mailboxes take for `auth`. */
export type AuthBody =
  | { method: "password" }
  | {
      method: "oauth2";
      grant: OAuthGrant;
      clientId: string;
      directoryId: string;
      tenantAuthority?: string;
      secretExpiresAt: string | null;
    };

/** A request body for the mailboxes API; values the administrator typed may be of the wrong kind on purpose. */
export type MailboxBody = Record<string, unknown>;
