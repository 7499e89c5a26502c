import { createHash } from "node:crypto";
import {
  ConfidentialClientApplication,
  LogLevel,
  PublicClientApplication,
  type AccountInfo,
  type AuthenticationResult,
  type Configuration,
} from "@azure/msal-node";
import { MailSourceError, type CredentialProvider } from "../connectors/mail-source.js";
import type { Logger } from "../logger.js";
import { msalNetworkClient, type HttpsOptions } from "./network-client.js";
import { requiredPermissions, resourceOf, scopesFor, type OAuthGrant, type TokenProtocol } from "./permissions.js";
import { readClaims, type TokenClaims } from "./token-claims.js";
import { tokenError } from "./token-errors.js";

/** Everything needed to get a token for one mailbox; built from the mailbox row with its secrets opened. */
export interface OAuthAccount {
  protocol: TokenProtocol;
  direction: "inbound" | "outbound";
  grant: OAuthGrant;
  clientId: string;
  directoryId: string;
  /** e.g. https://login.microsoftonline.com/ — the directory id is appended */
  tenantAuthority: string;
  /** client credentials: required; password grant: only for a confidential app */
  clientSecret: string | null;
  /** the mailbox's login (the password grant signs it in) */
  username: string;
  password: string | null;
}

export interface IssuedToken {
  accessToken: string;
  expiresOn: Date | null;
  claims: TokenClaims;
}

export interface TokenDiagnosis {
  audience: { expected: string; actual: string | null; ok: boolean };
  /** roles (application) or scp (delegated), as the token carries them */
  permissions: string[];
  required: string[];
  missing: string[];
  expiresAt: string | null;
}

interface AppEntry {
  app: ConfidentialClientApplication | PublicClientApplication;
  account: AccountInfo | null;
  network: { lastFailure: string | null };
}

/** Entra ID's public-cloud hosts; any other authority host (a sovereign cloud listed here aside) is trusted as given. */
const microsoftHosts = new Set(["login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "login.windows.net", "login.microsoft.com", "sts.windows.net"]);

export interface TokenServiceOptions extends HttpsOptions {
  log: Logger;
}

/**
 * Gets OAuth 2.0 access tokens from Entra ID with MSAL, for IMAP, POP3, SMTP, EWS and Graph mailboxes:
 * client credentials or the password grant (ROPC, which the legacy protocols use). MSAL keeps each
 * application's tokens and renews them five minutes before they expire; one application instance is
 * kept per authority, client and secret.
 */
export class TokenService {
  readonly #apps = new Map<string, AppEntry>();
  readonly #options: TokenServiceOptions;

  constructor(options: TokenServiceOptions) {
    this.#options = options;
  }

  /** A token for the account; `fresh` skips MSAL's cache (the server refused the last one). Throws MailSourceError with the status code. */
  async acquire(account: OAuthAccount, options: { fresh?: boolean } = {}): Promise<IssuedToken> {
    const names = { clientId: account.clientId, directoryId: account.directoryId, username: account.username, grant: account.grant };
    const scopes = scopesFor(account.protocol, account.grant, account.direction);
    const entry = this.#application(account);
    let result: AuthenticationResult | null;
    try {
      if (account.grant === "client_credentials") {
        if (!(entry.app instanceof ConfidentialClientApplication)) throw new MailSourceError("invalid_client", "Client credentials need the client secret of the Azure app.");
        result = await entry.app.acquireTokenByClientCredential({ scopes, skipCache: options.fresh === true });
      } else {
        result = await this.#passwordGrant(entry, account, scopes, options.fresh === true);
      }
    } catch (err) {
      throw tokenError(err, names, entry.network.lastFailure);
    }
    if (!result?.accessToken) throw new MailSourceError("token_error", "Entra ID answered without an access token.");
    return { accessToken: result.accessToken, expiresOn: result.expiresOn ?? null, claims: readClaims(result.accessToken) };
  }

  /** The connectors' credential provider for an OAuth mailbox: a token on each login, a fresh one after a refusal. */
  credentials(account: OAuthAccount): CredentialProvider {
    let fresh = false;
    return {
      get: async () => {
        const token = await this.acquire(account, { fresh });
        fresh = false;
        return { method: "xoauth2", accessToken: token.accessToken, appOnly: account.grant === "client_credentials" };
      },
      refused: () => {
        fresh = true;
      },
    };
  }

  /** Which of the permissions the mailbox needs the token carries, and which it lacks. */
  diagnose(token: IssuedToken, account: OAuthAccount): TokenDiagnosis {
    const permissions = account.grant === "client_credentials" ? token.claims.roles : token.claims.scp;
    const required = requiredPermissions(account.protocol, account.grant, account.direction);
    const expected = resourceOf(account.protocol);
    const actual = token.claims.aud;
    return {
      audience: { expected, actual, ok: actual === null || actual === expected || actual.startsWith(`${expected}/`) },
      permissions,
      required,
      missing: required.filter((p) => !permissions.includes(p)),
      expiresAt: token.expiresOn?.toISOString() ?? null,
    };
  }

  async #passwordGrant(
    entry: AppEntry,
    account: OAuthAccount,
    scopes: string[],
    fresh: boolean,
  ): Promise<AuthenticationResult | null> {
    if (entry.account) {
      try {
        return await entry.app.acquireTokenSilent({ account: entry.account, scopes, forceRefresh: fresh });
      } catch (err) {
        // a refresh token can be revoked or expire: sign in with the password again below
        this.#options.log.debug({ err }, "silent token renewal failed; signing in with the password");
      }
    }
    if (account.password === null) throw new MailSourceError("invalid_credentials", `Mailroom has no password for ${account.username}; type it on the mailbox.`);
    const result = await entry.app.acquireTokenByUsernamePassword({ scopes, username: account.username, password: account.password });
    entry.account = result?.account ?? null;
    return result;
  }

  #application(account: OAuthAccount): AppEntry {
    const authority = `${account.tenantAuthority.replace(/\/+$/, "")}/${account.directoryId}`;
    const secretHash = account.clientSecret === null ? "" : createHash("sha256").update(account.clientSecret).digest("hex");
    const passwordHash = account.password === null ? "" : createHash("sha256").update(account.password).digest("hex");
    const key = JSON.stringify([authority, account.clientId, secretHash, account.grant, account.username, passwordHash]);
    let entry = this.#apps.get(key);
    if (!entry) {
      const host = new URL(authority).host.toLowerCase();
      const log = this.#options.log;
      const network = msalNetworkClient(this.#options);
      const config: Configuration = {
        auth: {
          clientId: account.clientId,
          authority,
          // an authority outside Microsoft's clouds (Entra behind a private name, the emulator) is trusted as given,
          // which also spares the instance discovery request to login.microsoftonline.com
          ...(microsoftHosts.has(host) ? {} : { knownAuthorities: [host] }),
          ...(account.clientSecret === null ? {} : { clientSecret: account.clientSecret }),
        },
        system: {
          networkClient: network,
          loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Warning, loggerCallback: (_level, message) => log.debug({ msal: message }, "msal") },
        },
      };
      const app = account.clientSecret === null ? new PublicClientApplication(config) : new ConfidentialClientApplication(config);
      entry = { app, account: null, network };
      this.#apps.set(key, entry);
    }
    return entry;
  }
}
