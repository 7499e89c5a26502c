import type { Kysely } from "kysely";
import type { TestStep } from "../../connectors/mail-source.js";
import type { Database, MailboxesTable } from "../../db/schema.js";
import { AppError, type FieldProblem } from "../../errors.js";
import type { OAuthAccount } from "../../oauth/token-service.js";
import type { Clock } from "../../shared/clock.js";
import { newId } from "../../shared/ids.js";
import type { Actor, AuditService } from "../audit/audit.service.js";
import { testConnection, type ConnectionTestDeps } from "./mailboxes.connection.js";
import { applyPatch, draftFromRow, draftToColumns, passwordDestination, type AuthSettings, type MailboxDraft } from "./mailboxes.draft.js";
import { OAuthVerificationsStore, type AzureApp, type OAuthVerificationRow } from "./mailboxes-migration.store.js";
import {
  defaultTenantAuthority,
  type MailboxView,
  type OAuthMigrationInput,
  type OAuthRevertInput,
  type OAuthVerificationView,
} from "./mailboxes.schema.js";
import { accountOf } from "./mailboxes.oauth.js";
import { openSecret, sealSecret } from "./mailboxes.secrets.js";
import type { MailboxesStore, MailboxRow } from "./mailboxes.store.js";

/** How long a test mailbox's passed verification opens the way for migrating the other mailboxes of its Azure app. */
export const testMailboxPassHours = 24;
/** Verifications listed per mailbox. */
const verificationsShown = 20;

type OAuthSettings = Extract<AuthSettings, { method: "oauth2" }>;

/** What a mailbox moved by the assistant remembers of its password sign-in: the way back. */
export interface MigratedFrom {
  method: "password";
  /** passwordDestination of the mailbox before it moved: where its kept password went */
  destination: string;
  at: string;
}

export function migratedFromOf(row: Pick<MailboxesTable, "oauth_migrated_from">): MigratedFrom | null {
  if (row.oauth_migrated_from === null) return null;
  try {
    const value = JSON.parse(row.oauth_migrated_from) as Partial<MigratedFrom>;
    if (value.method === "password" && typeof value.destination === "string" && typeof value.at === "string") {
      return { method: value.method, destination: value.destination, at: value.at };
    }
  } catch {
    // unreadable: as if the mailbox had not been moved by the assistant (a revert then needs the password)
  }
  return null;
}

/**
 * Whether the kept password may sign the mailbox in again without being typed: only where it went before
 * the move. Someone who changed the host or login of the OAuth mailbox since must not get the stored
 * password sent to their server by reverting (design invariant 4).
 */
function keptPasswordFits(row: MailboxRow, from: MigratedFrom, reverted: MailboxDraft): boolean {
  return row.password_sealed !== null && passwordDestination(reverted) === from.destination;
}

/** The mailbox view's `oauthMigration`: set while an OAuth 2.0 mailbox is one the assistant moved. */
export function oauthMigrationOf(row: MailboxRow): MailboxView["oauthMigration"] {
  const from = migratedFromOf(row);
  if (row.auth_method !== "oauth2" || from === null) return undefined;
  const reverted: MailboxDraft = { ...draftFromRow(row), auth: { method: "password" } };
  return { migratedAt: from.at, canRevertWithoutPassword: keptPasswordFits(row, from, reverted) };
}

/** OAuth settings to try on a mailbox: as they would be stored, the mailbox row as it would be, and the account with its secrets. */
interface Trial {
  auth: OAuthSettings;
  row: MailboxRow;
  /** opens stored secrets when they are used, so one that does not open is a failed step */
  account: () => OAuthAccount;
}

export interface OAuthVerifyResult {
  ok: boolean;
  steps: TestStep[];
  verificationId: string;
}

export interface OAuthMigrationDeps extends ConnectionTestDeps {
  db: Kysely<Database>;
  audit: AuditService;
  clock: Clock;
  mailboxes: MailboxesStore;
  view(id: string): Promise<MailboxView>;
  /** the runners restart with the mailbox's new credential */
  notifyChanged(): void;
}

/**
 * The OAuth migration assistant: what the reference does through a support case. An administrator tries
 * OAuth 2.0 settings on a mailbox (a dry run that changes nothing), moves a password mailbox to them once a
 * test mailbox passed with the same Azure app, and can move it back. The mailbox keeps its sync state: source
 * keys and cursors belong to the maildrop (protocol, host, login, folder), which the move does not change.
 */
export class OAuthMigration {
  readonly #verifications = new OAuthVerificationsStore();

  constructor(private readonly deps: OAuthMigrationDeps) {}

  /** The dry run: gets a token and signs in with it as the mailbox would; records the result, changes nothing else. */
  async verify(actor: Actor, id: string, input: OAuthMigrationInput): Promise<OAuthVerifyResult> {
    const row = await this.#mailbox(this.deps.db, id);
    return this.#verify(actor, row, this.#trial(row, input), input);
  }

  async migrate(actor: Actor, id: string, input: OAuthMigrationInput): Promise<OAuthVerifyResult & { mailbox: MailboxView }> {
    const { db, clock } = this.deps;
    const row = await this.#mailbox(db, id);
    if (row.auth_method === "oauth2") {
      throw new AppError(
        "already_oauth",
        "The mailbox already signs in with OAuth 2.0: change its OAuth settings on the mailbox itself, or revert it to its password first.",
      );
    }
    const trial = this.#trial(row, input);
    const app: AzureApp = { clientId: trial.auth.clientId, directoryId: trial.auth.directoryId, tenantAuthority: trial.auth.tenantAuthority };
    // a test mailbox needs no earlier pass: the dry run below is a test mailbox's, and must pass
    if (row.test_mailbox !== 1) {
      const since = new Date(clock.now().getTime() - testMailboxPassHours * 3_600_000).toISOString();
      if (!(await this.#verifications.testMailboxPassed(db, app, since))) {
        throw new AppError(
          "test_mailbox_required",
          `Verify a test mailbox with this Azure app first: no mailbox marked as a test mailbox passed a verification with client ID ${app.clientId}, ` +
            `directory ID ${app.directoryId} and tenant authority ${app.tenantAuthority} in the last ${testMailboxPassHours} hours.`,
        );
      }
    }
    const result = await this.#verify(actor, row, trial, input);
    if (!result.ok) {
      const failed = result.steps.find((s) => !s.ok);
      throw new AppError(
        "verification_failed",
        `The dry run failed${failed ? ` at ${failed.step}: ${failed.message ?? "no reason given"}` : ""}. The mailbox still signs in with its password.`,
        result.steps.map((s): FieldProblem => ({ path: s.step, message: `${s.ok ? "passed" : "failed"}${s.message ? `: ${s.message}` : ""}` })),
      );
    }

    await db.transaction().execute(async (trx) => {
      const before = draftFromRow(row);
      const now = clock.now().toISOString();
      const from: MigratedFrom = { method: "password", destination: passwordDestination(before) ?? "", at: now };
      const { secretBox } = this.deps;
      // what was verified is what is switched: a mailbox edited since (another host, another login) was not tried
      const switched = await this.deps.mailboxes.updateIfUnchanged(trx, id, row.updated_at, {
        ...draftToColumns({ ...before, auth: trial.auth }),
        client_secret_sealed: input.clientSecret === undefined ? null : sealSecret(secretBox, id, "client_secret", input.clientSecret),
        // the kept password is the way back; the password grant needs the one typed for it (#trial made sure there is one),
        // which is the same account's password and so the way back as well
        ...(trial.auth.grant === "password" && input.password !== undefined ? { password_sealed: sealSecret(secretBox, id, "password", input.password) } : {}),
        oauth_migrated_from: JSON.stringify(from),
        updated_at: now,
      });
      if (!switched) throw new AppError("conflict", "The mailbox changed while it was being verified; run the migration again.");
      await this.deps.audit.record(trx, actor, "mailbox.oauth.migrate", { type: "mailbox", id }, { ...input, verificationId: result.verificationId });
    });
    this.deps.notifyChanged();
    return { ...result, mailbox: await this.deps.view(id) };
  }

  /**
   * Back to the password. The kept password is used only where it went before the move; after the host,
   * port, login, type or security changed it must be typed. A typed password also switches an OAuth mailbox
   * the assistant did not move.
   */
  async revert(actor: Actor, id: string, input: OAuthRevertInput): Promise<MailboxView> {
    const { db, clock, secretBox } = this.deps;
    await db.transaction().execute(async (trx) => {
      const row = await this.#mailbox(trx, id);
      const before = draftFromRow(row);
      if (before.auth.method !== "oauth2") throw new AppError("not_migrated", "The mailbox already signs in with its password.");
      const from = migratedFromOf(row);
      if (from === null && input.password === undefined) {
        throw new AppError(
          "not_migrated",
          "The migration assistant did not move this mailbox to OAuth 2.0, so Mailroom keeps no password for it to go back to: type the password to switch it to password sign-in.",
        );
      }
      const { draft: reverted, problems } = applyPatch(before, { auth: { method: "password" } });
      if (problems.length > 0) throw new AppError("invalid_input", problems.map((p) => p.message).join("; "), problems);
      if (input.password === undefined && (from === null || !keptPasswordFits(row, from, reverted))) {
        const message =
          row.password_sealed === null
            ? "Type the password: Mailroom keeps none for this mailbox."
            : "Type the password again: the host, port, mailbox (login), type or security changed since the mailbox moved to OAuth 2.0, and the kept password goes only where it went before.";
        throw new AppError("password_required", message, [{ path: "password", message }]);
      }
      const switched = await this.deps.mailboxes.updateIfUnchanged(trx, id, row.updated_at, {
        ...draftToColumns(reverted),
        ...(input.password === undefined ? {} : { password_sealed: sealSecret(secretBox, id, "password", input.password) }),
        // not needed any more; a move to OAuth again asks for it
        client_secret_sealed: null,
        oauth_migrated_from: null,
        updated_at: clock.now().toISOString(),
      });
      // the checks above were made on the mailbox as read: an edit in between (another host) was not checked
      if (!switched) throw new AppError("conflict", "The mailbox changed meanwhile; revert it again.");
      await this.deps.audit.record(trx, actor, "mailbox.oauth.revert", { type: "mailbox", id }, {
        password: input.password,
        storedPasswordReused: input.password === undefined,
        migratedAt: from?.at ?? null,
      });
    });
    this.deps.notifyChanged();
    return this.deps.view(id);
  }

  async verifications(id: string): Promise<OAuthVerificationView[]> {
    await this.#mailbox(this.deps.db, id);
    return (await this.#verifications.latest(this.deps.db, id, verificationsShown)).map(toVerificationView);
  }

  async #mailbox(db: Kysely<Database>, id: string): Promise<MailboxRow> {
    const row = await this.deps.mailboxes.byId(db, id);
    if (!row) throw AppError.notFound("The mailbox");
    return row;
  }

  /**
   * The settings of `input` on `row`, and the secrets they sign in with. A typed secret is used and never
   * stored here; a stored one only with the OAuth settings the mailbox already has: otherwise its password
   * would go to a tenant authority someone just typed (design invariant 4).
   */
  #trial(row: MailboxRow, input: OAuthMigrationInput): Trial {
    const auth: OAuthSettings = {
      method: "oauth2",
      grant: input.auth.grant,
      clientId: input.auth.clientId,
      directoryId: input.auth.directoryId,
      tenantAuthority: input.auth.tenantAuthority ?? defaultTenantAuthority,
      secretExpiresAt: input.auth.secretExpiresAt ?? null,
    };
    const current = draftFromRow(row);
    const sameApp =
      current.auth.method === "oauth2" &&
      current.auth.grant === auth.grant &&
      current.auth.clientId === auth.clientId &&
      current.auth.directoryId === auth.directoryId &&
      current.auth.tenantAuthority === auth.tenantAuthority;
    const storedClientSecret = sameApp ? row.client_secret_sealed : null;
    const storedPassword = sameApp && auth.grant === "password" ? row.password_sealed : null;

    const missing: FieldProblem[] = [];
    if (auth.grant === "client_credentials" && input.clientSecret === undefined && storedClientSecret === null) {
      missing.push({
        path: "clientSecret",
        message:
          "Type the client secret of the Azure app: a stored client secret is used only with the client ID, directory ID and tenant authority the mailbox already signs in with",
      });
    }
    if (auth.grant === "password" && input.password === undefined && storedPassword === null) {
      missing.push({
        path: "password",
        message:
          "Type the mailbox password: the password grant sends it to the tenant authority, and a stored password goes only to the authority the mailbox already signs in with",
      });
    }
    if (missing.length > 0) throw new AppError("password_required", missing.map((p) => p.message).join("; "), missing);

    const { secretBox } = this.deps;
    const trialRow: MailboxRow = { ...row, ...draftToColumns({ ...current, auth }) };
    return {
      auth,
      row: trialRow,
      account: () =>
        accountOf(row, auth, {
          clientSecret: input.clientSecret ?? (storedClientSecret === null ? null : openSecret(row, "client_secret", storedClientSecret, secretBox)),
          password: input.password ?? (storedPassword === null ? null : openSecret(row, "password", storedPassword, secretBox)),
        }),
    };
  }

  /** Runs the dry run and records it (the verification row and its audit line, together). */
  async #verify(actor: Actor, row: MailboxRow, trial: Trial, input: OAuthMigrationInput): Promise<OAuthVerifyResult> {
    const { ok, steps } = await testConnection(this.deps, trial.row, trial.account);
    const verification: OAuthVerificationRow = {
      id: newId(),
      mailbox_id: row.id,
      oauth_grant: trial.auth.grant,
      client_id: trial.auth.clientId,
      directory_id: trial.auth.directoryId,
      tenant_authority: trial.auth.tenantAuthority,
      ok: ok ? 1 : 0,
      steps: JSON.stringify(steps),
      verified_at: this.deps.clock.now().toISOString(),
      test_mailbox: row.test_mailbox,
    };
    await this.deps.db.transaction().execute(async (trx) => {
      await this.#verifications.insert(trx, verification);
      const failed = steps.find((s) => !s.ok);
      await this.deps.audit.record(trx, actor, "mailbox.oauth.verify", { type: "mailbox", id: row.id }, {
        ...input,
        ok,
        ...(failed ? { failedStep: failed.step } : {}),
        verificationId: verification.id,
      });
    });
    return { ok, steps, verificationId: verification.id };
  }
}

function toVerificationView(r: OAuthVerificationRow): OAuthVerificationView {
  return {
    id: r.id,
    grant: r.oauth_grant,
    clientId: r.client_id,
    directoryId: r.directory_id,
    tenantAuthority: r.tenant_authority,
    ok: r.ok === 1,
    steps: JSON.parse(r.steps) as TestStep[],
    verifiedAt: r.verified_at,
    testMailbox: r.test_mailbox === 1,
  };
}
