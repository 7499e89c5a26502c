import type { MailboxesTable } from "../../db/schema.js";
import type { FieldProblem } from "../../errors.js";
import { parseOptions, resolveOptions, type MailboxOptions } from "./mailboxes.options.js";
import {
  defaultTenantAuthority,
  inboundTypes,
  messages,
  namePattern,
  outboundName,
  outboundTypes,
  type AuthInput,
  type ClientType,
  type CreateMailboxInput,
  type MailboxType,
  type PatchMailboxInput,
} from "./mailboxes.schema.js";

export type AuthSettings =
  | { method: "password" }
  | {
      method: "oauth2";
      grant: "client_credentials" | "password";
      clientId: string;
      directoryId: string;
      tenantAuthority: string;
      secretExpiresAt: string | null;
    };

/** Everything about a mailbox but its id, secrets and timestamps: what create and patch validate. */
export interface MailboxDraft {
  name: string;
  clientType: ClientType;
  type: MailboxType;
  login: string;
  host: string;
  port: number;
  security: "tls" | "starttls" | "none";
  maxSizeMb: number | null;
  fromAddress: string | null;
  fromAddressFolderId: string | null;
  auth: AuthSettings;
  testMailbox: boolean;
  /** inbound only */
  options: MailboxOptions | null;
}

type Columns = Omit<MailboxesTable, "id" | "password_sealed" | "client_secret_sealed" | "oauth_migrated_from" | "created_at" | "updated_at">;

function toAuthSettings(input: AuthInput): AuthSettings {
  if (input.method === "password") return { method: "password" };
  return {
    method: "oauth2",
    grant: input.grant,
    clientId: input.clientId,
    directoryId: input.directoryId,
    tenantAuthority: input.tenantAuthority ?? defaultTenantAuthority,
    secretExpiresAt: input.secretExpiresAt ?? null,
  };
}

function typeProblem(clientType: ClientType, type: MailboxType): FieldProblem[] {
  if (clientType === "inbound" && !inboundTypes.includes(type)) {
    return [{ path: "type", message: `An inbound mailbox reads mail over ${inboundTypes.join(", ")}; ${type} is for sending` }];
  }
  if (clientType === "outbound" && !outboundTypes.includes(type)) {
    return [{ path: "type", message: `The outbound mailbox sends mail over ${outboundTypes.join(", ")}; ${type} is for reading` }];
  }
  return [];
}

/**
 * The reference's limits on signing in: Graph works with the client credentials grant (client secret
 * only). POP3, unlike in the reference, may sign in with XOAUTH2 as IMAP does.
 */
function authProblems(type: MailboxType, auth: AuthSettings): FieldProblem[] {
  if (type === "GRAPH" && !(auth.method === "oauth2" && auth.grant === "client_credentials")) {
    return [
      {
        path: "auth",
        message: "A Microsoft Graph mailbox signs in with OAuth 2.0 client credentials: auth.method oauth2, grant client_credentials and a client secret",
      },
    ];
  }
  return [];
}

/** Fields that only one client type has: giving them to the other is a mistake worth a 400. */
function clientTypeFieldProblems(clientType: ClientType, input: PatchMailboxInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (clientType === "outbound") {
    if (input.maxSizeMb !== undefined) problems.push({ path: "maxSizeMb", message: "Max size applies to inbound mailboxes only" });
    if (input.options !== undefined) problems.push({ path: "options", message: "Options apply to inbound mailboxes only" });
  } else {
    if (input.fromAddress !== undefined) problems.push({ path: "fromAddress", message: "From address applies to the outbound mailbox only" });
    if (input.fromAddressFolderId !== undefined && input.fromAddressFolderId !== null) {
      problems.push({ path: "fromAddressFolderId", message: "From address folder applies to the outbound mailbox only" });
    }
  }
  return problems;
}

export function draftFromCreate(input: CreateMailboxInput): { draft: MailboxDraft; problems: FieldProblem[] } {
  const { clientType, type } = input;
  const problems = [...typeProblem(clientType, type), ...clientTypeFieldProblems(clientType, input)];
  let name = outboundName;
  if (clientType === "outbound") {
    if (input.name !== undefined && input.name !== outboundName) {
      problems.push({ path: "name", message: `The outbound mailbox is always named ${outboundName}; leave the name out` });
    }
  } else if (input.name === undefined || !namePattern.test(input.name)) {
    problems.push({ path: "name", message: messages.name });
  } else {
    name = input.name;
  }
  if (clientType === "outbound" && input.fromAddress === undefined) {
    problems.push({ path: "fromAddress", message: "Enter the From address the outbound mailbox sends as" });
  }
  let options: MailboxOptions | null = null;
  if (clientType === "inbound" && problems.every((p) => p.path !== "type")) {
    const resolved = resolveOptions(type, null, input.options);
    options = resolved.options;
    problems.push(...resolved.problems);
  }
  const auth = toAuthSettings(input.auth ?? { method: "password" });
  problems.push(...authProblems(type, auth));
  const draft: MailboxDraft = {
    name,
    clientType,
    type,
    login: input.mailbox,
    host: input.host,
    port: input.port,
    security: input.security ?? "tls",
    maxSizeMb: clientType === "inbound" ? (input.maxSizeMb ?? 5) : null,
    fromAddress: clientType === "outbound" ? (input.fromAddress ?? null) : null,
    fromAddressFolderId: clientType === "outbound" ? (input.fromAddressFolderId ?? null) : null,
    auth,
    testMailbox: input.testMailbox ?? false,
    options,
  };
  return { draft, problems };
}

/** The mailbox after `patch`; name and client type are checked by the caller (they are read-only). */
export function applyPatch(current: MailboxDraft, patch: PatchMailboxInput): { draft: MailboxDraft; problems: FieldProblem[] } {
  const { clientType } = current;
  const type = patch.type ?? current.type;
  const problems = [...typeProblem(clientType, type), ...clientTypeFieldProblems(clientType, patch)];
  let options: MailboxOptions | null = null;
  if (clientType === "inbound" && problems.every((p) => p.path !== "type")) {
    const resolved = resolveOptions(type, type === current.type ? current.options : null, patch.options);
    options = resolved.options;
    problems.push(...resolved.problems);
  }
  const auth = patch.auth ? toAuthSettings(patch.auth) : current.auth;
  problems.push(...authProblems(type, auth));
  const draft: MailboxDraft = {
    ...current,
    type,
    login: patch.mailbox ?? current.login,
    host: patch.host ?? current.host,
    port: patch.port ?? current.port,
    security: patch.security ?? current.security,
    maxSizeMb: clientType === "inbound" ? (patch.maxSizeMb ?? current.maxSizeMb) : null,
    fromAddress: clientType === "outbound" ? (patch.fromAddress ?? current.fromAddress) : null,
    fromAddressFolderId:
      clientType === "outbound" && patch.fromAddressFolderId !== undefined ? patch.fromAddressFolderId : current.fromAddressFolderId,
    auth,
    testMailbox: patch.testMailbox ?? current.testMailbox,
    options,
  };
  return { draft, problems };
}

export function usesPassword(auth: AuthSettings): boolean {
  return auth.method === "password" || auth.grant === "password";
}

export function usesClientSecret(auth: AuthSettings): boolean {
  return auth.method === "oauth2" && auth.grant === "client_credentials";
}

/**
 * Whether what is sent to the mail server crosses the network in clear text. tls and starttls count
 * as one: the connectors insist on the STARTTLS upgrade and check the certificate either way.
 */
function inClearText(d: MailboxDraft): boolean {
  return d.security === "none";
}

/**
 * Where the stored password would go: the mail server (and, for the OAuth password grant, the token
 * endpoint), and whether in clear text. When this changes the password must be typed again, so that
 * nobody who can edit a mailbox can send its stored password to a server of their choosing, or have
 * it read on the way. Null when no password is used.
 */
export function passwordDestination(d: MailboxDraft): string | null {
  if (!usesPassword(d.auth)) return null;
  const authority = d.auth.method === "oauth2" ? d.auth.tenantAuthority : null;
  return JSON.stringify([d.type, d.host.toLowerCase(), d.port, inClearText(d), d.login, authority]);
}

/**
 * The same for the client secret: the app registration and authority it is presented to, and the
 * server that receives the tokens it buys, and whether in clear text (an app-only token reaches
 * every mailbox of the tenant).
 */
export function clientSecretDestination(d: MailboxDraft): string | null {
  if (d.auth.method !== "oauth2" || d.auth.grant !== "client_credentials") return null;
  return JSON.stringify([d.auth.clientId, d.auth.directoryId, d.auth.tenantAuthority, d.type, d.host.toLowerCase(), d.port, inClearText(d), d.login]);
}

export function draftFromRow(row: MailboxesTable): MailboxDraft {
  const auth: AuthSettings =
    row.auth_method === "oauth2"
      ? {
          method: "oauth2",
          grant: row.oauth_grant ?? "password",
          clientId: row.oauth_client_id ?? "",
          directoryId: row.oauth_directory_id ?? "",
          tenantAuthority: row.oauth_tenant_authority ?? defaultTenantAuthority,
          secretExpiresAt: row.oauth_secret_expires_at,
        }
      : { method: "password" };
  return {
    name: row.name,
    clientType: row.client_type,
    type: row.type,
    login: row.login,
    host: row.host,
    port: row.port,
    security: row.security,
    maxSizeMb: row.max_size_mb,
    fromAddress: row.from_address,
    fromAddressFolderId: row.from_address_folder_id,
    auth,
    testMailbox: row.test_mailbox === 1,
    options: row.client_type === "inbound" ? parseOptions(row.options, row.type) : null,
  };
}

export function draftToColumns(d: MailboxDraft): Columns {
  const oauth = d.auth.method === "oauth2" ? d.auth : null;
  return {
    name: d.name,
    client_type: d.clientType,
    type: d.type,
    login: d.login,
    host: d.host,
    port: d.port,
    security: d.security,
    max_size_mb: d.maxSizeMb,
    from_address: d.fromAddress,
    from_address_folder_id: d.fromAddressFolderId,
    auth_method: d.auth.method,
    oauth_grant: oauth?.grant ?? null,
    oauth_client_id: oauth?.clientId ?? null,
    oauth_directory_id: oauth?.directoryId ?? null,
    oauth_tenant_authority: oauth?.tenantAuthority ?? null,
    oauth_secret_expires_at: oauth?.secretExpiresAt ?? null,
    test_mailbox: d.testMailbox ? 1 : 0,
    options: JSON.stringify(d.options ?? {}),
  };
}
