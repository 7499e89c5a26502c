/**
 * What each protocol asks Entra for and which permissions its token must carry. Names are Microsoft's:
 * https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
 * (IMAP, POP, SMTP AUTH), https://learn.microsoft.com/graph/permissions-reference (Graph).
 */

export type TokenProtocol = "IMAP" | "POP3" | "SMTP" | "EWS" | "GRAPH";
export type OAuthGrant = "client_credentials" | "password";

const exchange = "https://outlook.office365.com";
const graph = "https://graph.microsoft.com";

interface ProtocolPermissions {
  resource: string;
  /** application permissions (client credentials: the token's roles) */
  application: string[];
  /** delegated permissions (the password grant: the token's scp) */
  delegated: string[];
}

const byProtocol: Record<TokenProtocol, ProtocolPermissions> = {
  IMAP: { resource: exchange, application: ["IMAP.AccessAsApp"], delegated: ["IMAP.AccessAsUser.All"] },
  POP3: { resource: exchange, application: ["POP.AccessAsApp"], delegated: ["POP.AccessAsUser.All"] },
  SMTP: { resource: exchange, application: ["SMTP.SendAsApp"], delegated: ["SMTP.Send"] },
  EWS: { resource: exchange, application: ["full_access_as_app"], delegated: ["EWS.AccessAsUser.All"] },
  // inbound Graph mailboxes read and mark read (Mail.ReadWrite, as the Genesys Cloud FAQ says), the
  // outbound one sends; the integration's delegated User.Read is asked for with the password grant
  GRAPH: { resource: graph, application: ["Mail.ReadWrite", "Mail.Send"], delegated: ["Mail.ReadWrite", "Mail.Send", "User.Read"] },
};

/** The audience (resource) the protocol's server accepts tokens for. */
export function resourceOf(protocol: TokenProtocol): string {
  return byProtocol[protocol].resource;
}

/** The scopes to request: `.default` for an application, the permissions by name for a user. */
export function scopesFor(protocol: TokenProtocol, grant: OAuthGrant, direction: "inbound" | "outbound"): string[] {
  const p = byProtocol[protocol];
  if (grant === "client_credentials") return [`${p.resource}/.default`];
  return requiredPermissions(protocol, grant, direction).map((name) => (name === "User.Read" ? `${p.resource}/User.Read` : `${p.resource}/${name}`));
}

/** The permissions a token for this protocol, grant and direction must carry. */
export function requiredPermissions(protocol: TokenProtocol, grant: OAuthGrant, direction: "inbound" | "outbound"): string[] {
  const p = byProtocol[protocol];
  const names = grant === "client_credentials" ? p.application : p.delegated;
  if (protocol !== "GRAPH") return names;
  // a Graph mailbox receives or sends, never both: ask for what its direction needs
  return names.filter((n) => (direction === "inbound" ? n !== "Mail.Send" : n !== "Mail.ReadWrite"));
}
