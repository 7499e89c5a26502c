/**
 * The resources (APIs) the emulator issues tokens for and the permissions each one defines. Names are
 * Microsoft's: https://learn.microsoft.com/graph/permissions-reference and
 * https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
 */

export interface Resource {
  /** the identifier a scope names it by, and the token's `aud` */
  uri: string;
  /** the resource's own application id: Entra accepts `<appId>/.default` as well */
  appId: string;
  /** application permissions (a client-credentials token's roles) */
  application: readonly string[];
  /** delegated permissions (a user token's scp) */
  delegated: readonly string[];
}

const graph = {
  appId: "00000003-0000-0000-c000-000000000000",
  application: ["Mail.Read", "Mail.ReadWrite", "Mail.Send", "User.Read.All"],
  delegated: ["User.Read", "Mail.Read", "Mail.ReadWrite", "Mail.Send"],
} as const;

// Exchange Online answers to both host names; the permissions are the same service principal's
const exchange = {
  appId: "00000002-0000-0ff1-ce00-000000000000",
  application: ["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp", "full_access_as_app"],
  delegated: ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send", "EWS.AccessAsUser.All"],
} as const;

export const graphResource: Resource = { uri: "https://graph.microsoft.com", ...graph };
export const resources: readonly Resource[] = [
  graphResource,
  { uri: "https://outlook.office365.com", ...exchange },
  { uri: "https://outlook.office.com", ...exchange },
];

/** Whether a token for this audience is an Exchange Online token (what IMAP, POP and SMTP AUTH accept). */
export function isExchangeAudience(aud: string): boolean {
  return aud === "https://outlook.office365.com" || aud === "https://outlook.office.com";
}

/** OpenID Connect scopes: they ask for an id token or a refresh token, not for an API's permission. */
export const oidcScopes = new Set(["openid", "profile", "email", "offline_access"]);

/** A scope taken apart: `https://outlook.office365.com/IMAP.AccessAsUser.All` → that resource and that permission. */
export interface ParsedScope {
  /** as the client sent it */
  raw: string;
  resource: Resource | null;
  /** the resource part as sent, for error messages when it names no resource the emulator knows */
  resourceText: string;
  /** ".default" or a permission name */
  permission: string;
}

export function parseScope(raw: string): ParsedScope {
  const slash = raw.lastIndexOf("/");
  // a bare permission ("Mail.Send") means Microsoft Graph, as Entra reads it
  if (slash < 0) return { raw, resource: graphResource, resourceText: graphResource.uri, permission: raw };
  const resourceText = raw.slice(0, slash).replace(/\/+$/, "");
  const key = resourceText.toLowerCase();
  const resource = resources.find((r) => r.uri.toLowerCase() === key || r.appId === key) ?? null;
  return { raw, resource, resourceText, permission: raw.slice(slash + 1) };
}

/** The permission's name as the resource spells it (Entra matches case-insensitively), or null when it has none such. */
export function knownPermission(resource: Resource, name: string, kind: "application" | "delegated"): string | null {
  const key = name.toLowerCase();
  return resource[kind].find((p) => p.toLowerCase() === key) ?? null;
}

/** The granted permissions that belong to the resource, in the resource's spelling. */
export function grantedFor(resource: Resource, granted: readonly string[], kind: "application" | "delegated"): string[] {
  const wanted = new Set(granted.map((g) => g.toLowerCase()));
  return resource[kind].filter((p) => wanted.has(p.toLowerCase()));
}
