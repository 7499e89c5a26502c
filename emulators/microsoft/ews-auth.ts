import type { EmulatorConnection, EmulatorContext, EmulatorRequest, EmulatorResponse } from "./context.js";
import { challengeMessage, negotiateFlags, newServerChallenge, ntlmMessageType, parseAuthenticateMessage, verifyNtlmV2 } from "./ews-ntlm.js";
import { at, type XmlNode } from "./ews-xml.js";
import type { EmulatorState, Tenant, User } from "./state.js";

/**
 * Who is calling EWS, checked on every request before the SOAP body is read, as IIS does in front of Exchange:
 * Basic, NTLM (which authenticates the TCP connection) or an OAuth bearer token from the emulator's Entra.
 */
export interface EwsIdentity {
  method: "basic" | "ntlm" | "application" | "delegated";
  tenant: Tenant;
  /** who signed in; null for an application token, which names the mailbox in the ExchangeImpersonation header */
  user: User | null;
}

export type EwsAuthOutcome = { ok: true; identity: EwsIdentity } | { ok: false; response: EmulatorResponse };

/** Exchange Online's resource, by URI and by app id; outlook.office.com is the same service principal and EXO takes it too. */
const EWS_AUDIENCES = ["https://outlook.office365.com", "https://outlook.office.com", "00000002-0000-0ff1-ce00-000000000000"];
const CLOCK_SKEW_SECONDS = 300;

/** What IIS offers a client without credentials: each scheme in a header line of its own. */
function challengeAll(offered: ReadonlySet<PasswordScheme> = allSchemes): EmulatorResponse {
  const challenges = [...(offered.has("ntlm") ? ["Negotiate", "NTLM"] : []), ...(offered.has("basic") ? ['Basic realm="127.0.0.1"'] : [])];
  return { status: 401, headers: { "www-authenticate": challenges } };
}

/**
 * Exchange Online's answer to a bearer token it does not take: the Bearer challenge naming its resource, and the reason in
 * x-ms-diagnostics.
 */
function bearerRejected(code: number, reason: string, category: string): EmulatorResponse {
  return {
    status: 401,
    headers: {
      "www-authenticate":
        'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000@*", token_types="app_asserted_user_v1 service_asserted_app_v1", error="invalid_token"',
      "x-ms-diagnostics": `${code};reason="${reason}";error_category="${category}"`,
    },
  };
}

/** Every user of the emulator once (a tenant's map holds each user under its id and its mail). */
function allUsers(state: EmulatorState): { tenant: Tenant; user: User }[] {
  const out: { tenant: Tenant; user: User }[] = [];
  for (const tenant of state.tenants.values()) for (const user of new Set(tenant.users.values())) out.push({ tenant, user });
  return out;
}

/** A sign-in name: the mail (any case), or a bare local part (DOMAIN\local, NTLM's UserName) in whatever domain. */
function findLogin(state: EmulatorState, login: string): { tenant: Tenant; user: User } | undefined {
  const name = login.includes("\\") ? login.slice(login.lastIndexOf("\\") + 1) : login;
  const key = name.toLowerCase();
  if (key === "") return undefined;
  return allUsers(state).find(({ user }) => {
    const mail = user.mail.toLowerCase();
    return key.includes("@") ? mail === key : mail.split("@")[0] === key;
  });
}

/** The user a mail address names, in one tenant or any. */
export function findMailbox(state: EmulatorState, address: string, tenant: Tenant | null = null): User | undefined {
  const key = address.trim().toLowerCase();
  return allUsers(state).find((u) => (tenant === null || u.tenant.id === tenant.id) && u.user.mail.toLowerCase() === key)?.user;
}

interface ConnectionAuth {
  /** the server challenge sent on this connection, waiting for the AUTHENTICATE_MESSAGE */
  challenge: Buffer | null;
  /** the scheme word the client used (NTLM, or Negotiate carrying raw NTLM), answered in kind */
  scheme: string;
  /** who NTLM authenticated on this connection; later requests without a header are this user, as with IIS */
  signedIn: { tenant: Tenant; user: User } | null;
}

/** the password schemes an EWS virtual directory can have enabled (Windows and Basic authentication in IIS) */
export type PasswordScheme = "ntlm" | "basic";
const allSchemes: ReadonlySet<PasswordScheme> = new Set(["ntlm", "basic"]);

export class EwsAuthenticator {
  /** what IIS offers and takes; POST /_emulator/ews/auth changes it (an Exchange with Windows authentication off, say) */
  offered: ReadonlySet<PasswordScheme> = allSchemes;
  readonly #ctx: EmulatorContext;
  // keyed by the connection object, so that it goes when the connection does
  readonly #connections = new WeakMap<EmulatorConnection, ConnectionAuth>();

  constructor(ctx: EmulatorContext) {
    this.#ctx = ctx;
  }

  authenticate(req: EmulatorRequest): EwsAuthOutcome {
    const header = String(req.headers.authorization ?? "").trim();
    const space = header.indexOf(" ");
    const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
    const credentials = space === -1 ? "" : header.slice(space + 1).trim();
    if (header === "") {
      const signedIn = this.#connections.get(req.connection)?.signedIn;
      return signedIn ? { ok: true, identity: { method: "ntlm", tenant: signedIn.tenant, user: signedIn.user } } : { ok: false, response: challengeAll(this.offered) };
    }
    if (scheme === "basic" && this.offered.has("basic")) return this.#basic(credentials);
    if ((scheme === "ntlm" || scheme === "negotiate") && this.offered.has("ntlm")) return this.#ntlm(req.connection, scheme === "ntlm" ? "NTLM" : "Negotiate", credentials);
    if (scheme === "bearer") return this.#bearer(credentials);
    return { ok: false, response: challengeAll(this.offered) };
  }

  #basic(credentials: string): EwsAuthOutcome {
    const decoded = Buffer.from(credentials, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon === -1) return { ok: false, response: challengeAll() };
    const found = findLogin(this.#ctx.state, decoded.slice(0, colon));
    // a locked account is refused whatever the password, as a disabled account is
    if (!found || found.user.signIn === "locked" || found.user.password !== decoded.slice(colon + 1)) return { ok: false, response: challengeAll() };
    return { ok: true, identity: { method: "basic", tenant: found.tenant, user: found.user } };
  }

  /** NTLM over HTTP: type 1 gets a challenge on this connection, type 3 on the same connection answers it (MS-NLMP 3.2.5). */
  #ntlm(connection: EmulatorConnection, scheme: string, credentials: string): EwsAuthOutcome {
    const message = Buffer.from(credentials, "base64");
    const type = ntlmMessageType(message);
    let auth = this.#connections.get(connection);
    if (!auth) {
      auth = { challenge: null, scheme, signedIn: null };
      this.#connections.set(connection, auth);
    }
    if (type === 1) {
      // a new handshake replaces whatever this connection was signed in as
      auth.challenge = newServerChallenge();
      auth.scheme = scheme;
      auth.signedIn = null;
      const challenge = challengeMessage(auth.challenge, negotiateFlags(message), this.#ctx.state.now());
      return { ok: false, response: { status: 401, headers: { "www-authenticate": `${scheme} ${challenge.toString("base64")}` } } };
    }
    const challenge = auth.challenge;
    auth.challenge = null;
    if (type !== 3 || challenge === null) return { ok: false, response: challengeAll() };
    const parsed = parseAuthenticateMessage(message);
    if (!parsed) return { ok: false, response: challengeAll() };
    const found = findLogin(this.#ctx.state, parsed.user);
    if (!found || found.user.signIn === "locked") return { ok: false, response: challengeAll() };
    // the hash uses the names exactly as the client sent them (MS-NLMP 3.3.2), whatever case it matched the user in
    if (!verifyNtlmV2(parsed.ntResponse, challenge, found.user.password, parsed.user, parsed.domain)) return { ok: false, response: challengeAll() };
    auth.signedIn = found;
    return { ok: true, identity: { method: "ntlm", tenant: found.tenant, user: found.user } };
  }

  /**
   * An OAuth token as Exchange Online checks it: signed by the emulator's Entra, for Exchange, in time. A token without
   * EWS permission (full_access_as_app, EWS.AccessAsUser.All) is refused with 401 as Exchange Online does, with the
   * x-ms-diagnostics it sends then (2000008, invalid_grant), not with ErrorAccessDenied response messages.
   */
  #bearer(token: string): EwsAuthOutcome {
    const claims = this.#ctx.signer.verify(token);
    if (!claims) return { ok: false, response: bearerRejected(2000001, "The token has an invalid signature.", "invalid_signature") };
    if (!EWS_AUDIENCES.includes(claims.aud)) {
      return { ok: false, response: bearerRejected(2000001, `The audience claim value is invalid '${String(claims.aud)}'.`, "invalid_token") };
    }
    const now = this.#ctx.state.now().getTime() / 1000;
    if (typeof claims.exp !== "number" || claims.exp + CLOCK_SKEW_SECONDS <= now || (typeof claims.nbf === "number" && claims.nbf - CLOCK_SKEW_SECONDS > now)) {
      return { ok: false, response: bearerRejected(2000001, "The token has expired.", "expired") };
    }
    const tenant = this.#ctx.state.tenant(claims.tid ?? "");
    if (!tenant) return { ok: false, response: bearerRejected(2000001, "The token's issuer is not trusted.", "invalid_token") };
    const noPermission = bearerRejected(2000008, "The token contains no permissions, or permissions can not be understood.", "invalid_grant");
    const scopes = typeof claims.scp === "string" ? claims.scp.split(" ").filter((s) => s !== "") : [];
    if (scopes.length > 0) {
      if (!scopes.includes("EWS.AccessAsUser.All")) return { ok: false, response: noPermission };
      // Entra's delegated tokens carry the user's object id in oid and the sign-in name in upn / preferred_username
      const user = tenant.users.get(claims.oid) ?? findMailbox(this.#ctx.state, claims.upn ?? claims.preferred_username ?? "", tenant);
      if (!user) return { ok: false, response: bearerRejected(2000001, "The user in the token has no mailbox.", "invalid_token") };
      return { ok: true, identity: { method: "delegated", tenant, user } };
    }
    if (!(claims.roles ?? []).includes("full_access_as_app")) return { ok: false, response: noPermission };
    return { ok: true, identity: { method: "application", tenant, user: null } };
  }
}

/**
 * The mailbox a request acts on. An application token must name it in ExchangeImpersonation/ConnectingSID (in its own
 * tenant); everyone else acts on their own mailbox and may not impersonate (the ApplicationImpersonation role is not
 * emulated). Null code: go on with `user`.
 */
export function actingMailbox(state: EmulatorState, identity: EwsIdentity, header: XmlNode | undefined): { ok: true; user: User } | { ok: false; code: string } {
  const impersonation = at(header, "ExchangeImpersonation");
  if (identity.method !== "application") {
    if (impersonation) return { ok: false, code: "ErrorImpersonateUserDenied" };
    return { ok: true, user: identity.user as User };
  }
  const sid = at(impersonation, "ConnectingSID");
  const address = (at(sid, "PrimarySmtpAddress") ?? at(sid, "SmtpAddress") ?? at(sid, "PrincipalName"))?.text ?? "";
  if (address === "") return { ok: false, code: "ErrorInvalidExchangeImpersonationHeaderData" };
  const user = findMailbox(state, address, identity.tenant);
  return user ? { ok: true, user } : { ok: false, code: "ErrorNonExistentMailbox" };
}
