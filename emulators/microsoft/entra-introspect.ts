import { json, type EmulatorContext, type EmulatorRequest, type EmulatorResponse } from "./context.js";
import { isExchangeAudience } from "./entra-permissions.js";

/**
 * RFC 7662 token introspection for Dovecot's `passdb oauth2`, standing in for Exchange Online's own
 * check of the tokens IMAP, POP and SMTP AUTH logins present. Not Microsoft's: Exchange publishes no
 * such endpoint, so this lives under /_emulator.
 *
 * What Dovecot 2.3 sends and reads (checked in its source, src/auth/db-oauth2.c and
 * src/lib-oauth2/oauth2-request.c at tag 2.3.19.1, and against the real Dovecot in
 * emulators/microsoft/introspect.int.test.ts):
 * - `introspection_mode = post` posts `token=…&client_id=…&client_secret=…`; nothing in it names the
 *   login. `introspection_url` is used as written, NOT var-expanded: `…/introspect?login=%u` is not
 *   filled in (2.3.19.1's auth process even panics on the then invalid URL and the login fails).
 *   `send_auth_headers = yes` adds only X-Dovecot-Auth-Service (imap, pop3), -Local and -Remote
 *   (ip:port). So the emulator cannot learn which mailbox is being opened.
 * - After `active`, Dovecot always compares `username_attribute` (`email`) with the login, both put
 *   through `username_format` (default `%Lu`). A reply without that attribute fails as an internal
 *   error ("No username returned", IMAP `NO [UNAVAILABLE]`), and no setting turns the comparison off.
 * - Anything but HTTP 200 is a temporary failure too: a refused token must be 200 `{"active": false}`.
 *
 * Hence the replies:
 * - a delegated token with IMAP.AccessAsUser.All, POP.AccessAsUser.All or SMTP.Send: `email` = the
 *   user's address (the token's upn): only that mailbox opens, under any username_format.
 * - an application token with IMAP.AccessAsApp, POP.AccessAsApp or SMTP.SendAsApp names no user;
 *   Exchange lets the app into the mailboxes of its tenant that it was given. The reply says
 *   `email: "*@<tenant domain>"`: under the default `%Lu` it matches no login (refused, not
 *   let in by mistake); with `username_format = %Ld` in dovecot-oauth2.conf.ext Dovecot compares
 *   domains only, so the app opens every mailbox of its tenant's domain. (That setting relaxes delegated
 *   tokens to the domain as well; a second oauth2 passdb for application tokens would keep them exact.)
 * - with `send_auth_headers = yes` the service is known and the permission must be that protocol's
 *   (an IMAP login with a POP-only token is refused, as Exchange refuses it); without it any of them does.
 * - anything else (not ours, expired, not yet valid, another audience than Exchange Online, no mail
 *   permission): `{"active": false}`.
 * Dovecot must trust the emulator's CA: `tls_ca_cert_file = <caFile>` in dovecot-oauth2.conf.ext
 * (its HTTP client otherwise checks against the system roots only), readable by Dovecot's auth process.
 *
 * The whole dovecot-oauth2.conf.ext that the tests run with:
 *   introspection_mode = post
 *   introspection_url = https://127.0.0.1:PORT/_emulator/introspect
 *   tls_ca_cert_file = /path/to/ca.pem
 *   username_attribute = email
 *   username_format = %Ld
 *   send_auth_headers = yes
 *   active_attribute = active
 *   active_value = true
 *   force_introspection = yes
 */

const delegatedBy = { imap: "IMAP.AccessAsUser.All", pop3: "POP.AccessAsUser.All", smtp: "SMTP.Send" } as const;
const applicationBy = { imap: "IMAP.AccessAsApp", pop3: "POP.AccessAsApp", smtp: "SMTP.SendAsApp" } as const;
type Service = keyof typeof delegatedBy;

function serviceOf(header: string | string[] | undefined): Service | null {
  const value = (Array.isArray(header) ? header[0] : header)?.toLowerCase();
  if (value === "imap" || value === "pop3") return value;
  if (value === "smtp" || value === "submission") return "smtp";
  return null;
}

export function introspect(ctx: EmulatorContext, req: EmulatorRequest): EmulatorResponse {
  const inactive = json(200, { active: false });
  const form = new URLSearchParams(req.body.toString("utf8"));
  const token = form.get("token") ?? "";
  if (token === "") return inactive;
  const claims = ctx.signer.verify(token);
  if (!claims) return inactive;
  const now = Math.floor(ctx.state.now().getTime() / 1000);
  if (typeof claims.exp !== "number" || claims.exp <= now || (typeof claims.nbf === "number" && claims.nbf > now)) return inactive;
  if (typeof claims.aud !== "string" || !isExchangeAudience(claims.aud)) return inactive;
  const tenant = ctx.state.tenant(claims.tid);
  if (!tenant) return inactive;

  const service = serviceOf(req.headers["x-dovecot-auth-service"]);
  const wanted = (table: Record<Service, string>) => (service ? [table[service]] : Object.values(table));
  const common = {
    active: true,
    client_id: claims.appid,
    token_type: "Bearer",
    exp: claims.exp,
    iat: claims.iat,
    nbf: claims.nbf,
    sub: claims.oid,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.uti,
    tid: claims.tid,
  };
  if (typeof claims.scp === "string") {
    const scp = claims.scp.split(" ");
    if (!wanted(delegatedBy).some((p) => scp.includes(p)) || !claims.upn) return inactive;
    return json(200, { ...common, scope: claims.scp, username: claims.upn, email: claims.upn });
  }
  const roles = Array.isArray(claims.roles) ? claims.roles : [];
  if (!wanted(applicationBy).some((p) => roles.includes(p))) return inactive;
  return json(200, { ...common, scope: roles.join(" "), email: `*@${tenant.domain}` });
}
