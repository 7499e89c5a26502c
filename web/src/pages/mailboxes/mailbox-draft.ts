import type { ClientType, Mailbox, MailboxAuth, MailboxType, Security } from "../../api/types";
import type { AuthBody, MailboxBody, MailboxDraft } from "./mailboxes.types";
import { optionsBody, optionsPatch, readingDefaults, readingFor, readingOf, readingPaths } from "./reading-options";

/** The fixed name of the outbound mailbox (the reference's smtp-client). */
export const outboundName = "smtp-client";
export const defaultTenantAuthority = "https://login.microsoftonline.com/";

export const typesFor: Record<ClientType, readonly MailboxType[]> = {
  inbound: ["IMAP", "POP3", "GRAPH", "EWS"],
  outbound: ["SMTP", "GRAPH", "EWS"],
};

export const typeLabels: Record<MailboxType, string> = {
  IMAP: "IMAP",
  POP3: "POP3",
  SMTP: "SMTP",
  GRAPH: "Microsoft Graph",
  EWS: "Exchange Web Services (EWS)",
};

/** Graph and EWS speak HTTPS: STARTTLS means nothing to them. */
export function isWebType(type: MailboxType): boolean {
  return type === "GRAPH" || type === "EWS";
}

const ports: Record<MailboxType, Record<Security, number>> = {
  IMAP: { tls: 993, starttls: 143, none: 143 },
  POP3: { tls: 995, starttls: 110, none: 110 },
  SMTP: { tls: 465, starttls: 587, none: 25 },
  GRAPH: { tls: 443, starttls: 443, none: 80 },
  EWS: { tls: 443, starttls: 443, none: 80 },
};

export function defaultPort(type: MailboxType, security: Security): number {
  return ports[type][security];
}

// Microsoft's own endpoints: where nearly every Graph or EWS mailbox of Exchange Online points
const defaultHosts: Partial<Record<MailboxType, string>> = { GRAPH: "graph.microsoft.com", EWS: "outlook.office365.com" };

export function blankDraft(clientType: ClientType): MailboxDraft {
  const type: MailboxType = clientType === "inbound" ? "IMAP" : "SMTP";
  // SMTP submission is STARTTLS on 587 almost everywhere (Exchange Online among them)
  const security: Security = clientType === "inbound" ? "tls" : "starttls";
  return {
    name: clientType === "inbound" ? "" : outboundName,
    maxSizeMb: "5",
    mailbox: "",
    password: "",
    type,
    security,
    host: "",
    port: String(defaultPort(type, security)),
    fromAddress: "",
    fromAddressFolderId: null,
    authMethod: "password",
    grant: "client_credentials",
    clientId: "",
    directoryId: "",
    tenantAuthority: defaultTenantAuthority,
    clientSecret: "",
    secretExpiresAt: "",
    testMailbox: false,
    reading: readingDefaults(type),
  };
}

/** The form for a saved mailbox: everything but its secrets, which are never shown. */
export function draftOf(m: Mailbox): MailboxDraft {
  const blank = blankDraft(m.clientType);
  const oauth = m.auth.method === "oauth2" ? m.auth : null;
  return {
    ...blank,
    name: m.name,
    maxSizeMb: m.maxSizeMb === null ? blank.maxSizeMb : String(m.maxSizeMb),
    mailbox: m.mailbox,
    type: m.type,
    security: m.security,
    host: m.host,
    port: String(m.port),
    fromAddress: m.fromAddress ?? "",
    fromAddressFolderId: m.fromAddressFolderId,
    authMethod: m.auth.method,
    grant: oauth?.grant ?? blank.grant,
    clientId: oauth?.clientId ?? "",
    directoryId: oauth?.directoryId ?? "",
    tenantAuthority: oauth?.tenantAuthority ?? defaultTenantAuthority,
    // a date input shows dates only; an expiry saved with a time keeps it unless the date is changed
    secretExpiresAt: oauth?.secretExpiresAt?.slice(0, 10) ?? "",
    testMailbox: m.testMailbox,
    reading: readingOf(m),
  };
}

/**
 * The draft after choosing another type: its default port and host replace the old type's defaults
 * (never something typed), Graph gets the sign-in it needs (OAuth 2.0 client credentials), and a way
 * of reading mail that the new protocol lacks gives way to its default.
 */
export function withType(d: MailboxDraft, type: MailboxType): MailboxDraft {
  const security: Security = isWebType(type) && d.security === "starttls" ? "tls" : d.security;
  const next: MailboxDraft = { ...d, type, security, reading: readingFor(d.reading, type) };
  if (d.port.trim() === "" || d.port === String(defaultPort(d.type, d.security))) next.port = String(defaultPort(type, security));
  if (d.host.trim() === "" || d.host === defaultHosts[d.type]) next.host = defaultHosts[type] ?? "";
  if (type === "GRAPH") {
    next.authMethod = "oauth2";
    next.grant = "client_credentials";
  }
  return next;
}

export function withSecurity(d: MailboxDraft, security: Security): MailboxDraft {
  const next: MailboxDraft = { ...d, security };
  if (d.port.trim() === "" || d.port === String(defaultPort(d.type, d.security))) next.port = String(defaultPort(d.type, security));
  return next;
}

export function usesPassword(d: MailboxDraft): boolean {
  return d.authMethod === "password" || d.grant === "password";
}

export function usesClientSecret(d: MailboxDraft): boolean {
  return d.authMethod === "oauth2" && d.grant === "client_credentials";
}

/** A number when the text is one; otherwise the text itself (or null), so the API says what is wrong with it. */
function numberOrText(text: string): number | string | null {
  const t = text.trim();
  if (t === "") return null;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

function authBody(d: MailboxDraft, saved: MailboxAuth | null): AuthBody {
  if (d.authMethod === "password") return { method: "password" };
  const savedExpiry = saved?.method === "oauth2" ? saved.secretExpiresAt : undefined;
  const expiry = d.secretExpiresAt === "" ? null : savedExpiry?.slice(0, 10) === d.secretExpiresAt ? savedExpiry : d.secretExpiresAt;
  const body: AuthBody = { method: "oauth2", grant: d.grant, clientId: d.clientId, directoryId: d.directoryId, secretExpiresAt: expiry };
  // left empty, the server's default authority applies
  if (d.tenantAuthority.trim() !== "") body.tenantAuthority = d.tenantAuthority;
  return body;
}

/** The auth settings as the server keeps them, to tell whether the form changed them. */
function comparableAuth(a: AuthBody | MailboxAuth): string {
  if (a.method === "password") return "password";
  return JSON.stringify([a.grant, a.clientId.trim(), a.directoryId.trim(), (a.tenantAuthority ?? defaultTenantAuthority).trim(), a.secretExpiresAt ?? null]);
}

function secrets(d: MailboxDraft): MailboxBody {
  const body: MailboxBody = {};
  if (usesPassword(d) && d.password !== "") body.password = d.password;
  if (usesClientSecret(d) && d.clientSecret !== "") body.clientSecret = d.clientSecret;
  return body;
}

export function createBody(clientType: ClientType, d: MailboxDraft): MailboxBody {
  const own: MailboxBody =
    clientType === "inbound"
      ? { name: d.name, maxSizeMb: numberOrText(d.maxSizeMb), options: optionsBody(d.type, d.reading) }
      : { fromAddressFolderId: d.fromAddressFolderId, ...(d.fromAddress === "" ? {} : { fromAddress: d.fromAddress }) };
  return {
    clientType,
    ...own,
    type: d.type,
    mailbox: d.mailbox,
    host: d.host,
    port: numberOrText(d.port),
    security: d.security,
    auth: authBody(d, null),
    testMailbox: d.testMailbox,
    ...secrets(d),
  };
}

/**
 * Only what changed, so that the audit log says what the administrator did. A secret left empty is
 * kept; the API asks for it again (password_required) when the change would send it somewhere new.
 */
export function patchBody(m: Mailbox, d: MailboxDraft): MailboxBody {
  const body: MailboxBody = {};
  const changed = (a: string, b: string) => a.trim() !== b.trim();
  if (changed(d.mailbox, m.mailbox)) body.mailbox = d.mailbox;
  if (d.type !== m.type) body.type = d.type;
  if (changed(d.host, m.host)) body.host = d.host;
  if (changed(d.port, String(m.port))) body.port = numberOrText(d.port);
  if (d.security !== m.security) body.security = d.security;
  if (m.clientType === "inbound") {
    if (changed(d.maxSizeMb, String(m.maxSizeMb ?? ""))) body.maxSizeMb = numberOrText(d.maxSizeMb);
    const options = optionsPatch(m, d.type, d.reading);
    if (options) body.options = options;
  }
  if (m.clientType === "outbound") {
    if (changed(d.fromAddress, m.fromAddress ?? "")) body.fromAddress = d.fromAddress;
    if (d.fromAddressFolderId !== m.fromAddressFolderId) body.fromAddressFolderId = d.fromAddressFolderId;
  }
  const auth = authBody(d, m.auth);
  if (comparableAuth(auth) !== comparableAuth(m.auth)) body.auth = auth;
  if (d.testMailbox !== m.testMailbox) body.testMailbox = d.testMailbox;
  return { ...body, ...secrets(d) };
}

/**
 * The request paths of the API's field messages that the form shows beside a field, as the form is
 * now; a message for any other path goes to the notice at the top of the form.
 */
export function shownPaths(clientType: ClientType, d: MailboxDraft): Set<string> {
  const paths = ["name", "mailbox", "type", "security", "host", "port", "auth", "auth.method", "testMailbox"];
  if (clientType === "inbound") paths.push("maxSizeMb", ...readingPaths(d.type, d.reading));
  else paths.push("fromAddress", "fromAddressFolderId");
  if (usesPassword(d)) paths.push("password");
  if (d.authMethod === "oauth2") paths.push("auth.grant", "auth.clientId", "auth.directoryId", "auth.tenantAuthority");
  if (usesClientSecret(d)) paths.push("clientSecret", "auth.secretExpiresAt");
  return new Set(paths);
}
