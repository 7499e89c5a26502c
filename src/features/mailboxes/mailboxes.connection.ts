import {
  MailSourceError,
  fixedCredential,
  type CredentialProvider,
  type MailSourceSettings,
  type MailSourceTester,
  type TestStep,
} from "../../connectors/mail-source.js";
import type { SecretBox } from "../../crypto/secret-box.js";
import type { Logger } from "../../logger.js";
import type { OAuthAccount } from "../../oauth/token-service.js";
import type { OAuthCredentials } from "./mailboxes.oauth.js";
import { parseOptions } from "./mailboxes.options.js";
import { openPassword } from "./mailboxes.secrets.js";
import type { MailboxRow } from "./mailboxes.store.js";

/**
 * The settings a connector needs for the mailbox in `row`, with its password opened. OAuth 2.0
 * mailboxes get their credentials from `extra.credentials` (the token service); without one, an
 * `xoauth2` credential with an empty token, which the server refuses in words.
 */
export function toSourceSettings(
  row: MailboxRow,
  secretBox: SecretBox,
  extra: { credentials?: CredentialProvider; connectTimeoutMs?: number; allowInvalidCertificates?: boolean } = {},
): MailSourceSettings {
  let credentials: CredentialProvider;
  if (row.auth_method === "oauth2") {
    credentials = extra.credentials ?? fixedCredential({ method: "xoauth2", accessToken: "" });
  } else {
    if (row.password_sealed === null) throw new Error(`Mailbox ${row.name} has no stored password; type the password again.`);
    credentials = fixedCredential({ method: "password", password: openPassword(row, row.password_sealed, secretBox) });
  }
  const options = parseOptions(row.options, row.type);
  let acknowledge: MailSourceSettings["acknowledge"] = { mode: "seen" };
  if (row.type === "POP3") acknowledge = { mode: options.acknowledge === "keep" ? "keep" : "delete" };
  else if (options.acknowledge === "move" && options.processedFolder) acknowledge = { mode: "move", folder: options.processedFolder };
  return {
    mailboxId: row.id,
    host: row.host,
    port: row.port,
    security: row.security,
    login: row.login,
    credentials,
    folder: options.folder ?? "INBOX",
    acknowledge,
    initialImport: options.initialImport,
    connectTimeoutMs: extra.connectTimeoutMs ?? 15_000,
    allowInvalidCertificates: extra.allowInvalidCertificates ?? false,
  };
}

/**
 * The test's first step for an OAuth 2.0 mailbox: get a token, and say which permissions it carries and
 * which the mailbox's protocol needs but it lacks. A token that lacks them fails the step: the login would.
 */
export async function tokenStep(oauth: OAuthCredentials, account: OAuthAccount): Promise<{ step: TestStep; credentials: CredentialProvider | null }> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const token = await oauth.acquire(account, { fresh: true });
    const d = oauth.diagnose(token, account);
    const carried = d.permissions.length > 0 ? d.permissions.join(", ") : "none";
    const problems: string[] = [];
    if (!d.audience.ok) problems.push(`the token is for ${d.audience.actual ?? "?"}, not ${d.audience.expected}`);
    if (d.missing.length > 0) problems.push(`it lacks ${d.missing.join(", ")}: grant ${d.missing.length > 1 ? "them" : "it"} with admin consent in Entra ID`);
    const kind = account.grant === "client_credentials" ? "application permissions" : "delegated permissions";
    const message = `Token for ${account.username} with ${kind}: ${carried}${problems.length > 0 ? `; ${problems.join("; ")}` : ""}`;
    const step: TestStep = { step: "acquire_token", ok: problems.length === 0, ms: ms(), message };
    return { step, credentials: { get: () => Promise.resolve({ method: "xoauth2", accessToken: token.accessToken, appOnly: account.grant === "client_credentials" }), refused: () => undefined } };
  } catch (err) {
    const message = err instanceof Error ? err.message + (err instanceof MailSourceError && err.serverText ? ` (${err.serverText})` : "") : String(err);
    return { step: { step: "acquire_token", ok: false, ms: ms(), message }, credentials: null };
  }
}

export interface ConnectionTestDeps {
  tester: MailSourceTester | undefined;
  oauth: OAuthCredentials | undefined;
  secretBox: SecretBox;
  log: Logger;
}

/**
 * Connects, signs in, opens the folder; never changes mail. `row` need not be stored: the migration
 * assistant tests a mailbox as it would be with OAuth settings it has not saved. `account` (its secrets
 * opened) is asked for inside the test, so a secret that does not open is a failed step, not a 500.
 */
export async function testConnection(
  deps: ConnectionTestDeps,
  row: MailboxRow,
  account: () => OAuthAccount | null,
): Promise<{ ok: boolean; steps: TestStep[] }> {
  const cannot = (step: TestStep["step"], message: string) => ({ ok: false, steps: [{ step, ok: false, ms: 0, message }] });
  if (!deps.tester) return cannot("connect", `This Mailroom server has no ${row.type} connection test yet.`);
  const started = performance.now();
  try {
    const steps: TestStep[] = [];
    let credentials: CredentialProvider | undefined;
    const oauthAccount = account();
    if (oauthAccount) {
      if (!deps.oauth) return cannot("acquire_token", "This Mailroom server has no token service for OAuth 2.0 mailboxes.");
      const step = await tokenStep(deps.oauth, oauthAccount);
      steps.push(step.step);
      if (!step.credentials) return { ok: false, steps };
      credentials = step.credentials;
    }
    const settings = toSourceSettings(row, deps.secretBox, credentials ? { credentials } : {});
    steps.push(...(await deps.tester(row.type, settings, { direction: row.client_type })));
    return { ok: steps.length > 0 && steps.every((s) => s.ok), steps };
  } catch (err) {
    deps.log.warn({ mailboxId: row.id, err }, "mailbox test failed unexpectedly");
    const message = err instanceof Error ? err.message : "The test failed.";
    return { ok: false, steps: [{ step: "connect", ok: false, ms: Math.round(performance.now() - started), message }] };
  }
}
