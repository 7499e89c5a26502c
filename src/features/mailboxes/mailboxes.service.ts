import type { Compilable, Kysely } from "kysely";
import type { CredentialProvider, MailProtocol, MailSourceSettings, MailSourceTester, TestStep } from "../../connectors/mail-source.js";
import type { SecretBox } from "../../crypto/secret-box.js";
import { isForeignKeyViolation, uniqueViolation } from "../../db/constraint-errors.js";
import type { Fence } from "../../db/fence.js";
import type { Database, MailboxStatusTable } from "../../db/schema.js";
import { executeReadings, executeStatements } from "../../db/statement-batch.js";
import { AppError, type FieldProblem } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { Clock } from "../../shared/clock.js";
import { isEmailAddress } from "../../shared/email-address.js";
import { newId } from "../../shared/ids.js";
import type { Actor, AuditService } from "../audit/audit.service.js";
import type { FromAddressesService, OutboundSender } from "../from-addresses/from-addresses.service.js";
import {
  applyPatch,
  clientSecretDestination,
  draftFromCreate,
  draftFromRow,
  draftToColumns,
  passwordDestination,
  usesClientSecret,
  usesPassword,
  type AuthSettings,
  type MailboxDraft,
} from "./mailboxes.draft.js";
import { testConnection, toSourceSettings } from "./mailboxes.connection.js";
import { OAuthMigration } from "./mailboxes.migration.js";
import { oauthAccount, type OAuthCredentials } from "./mailboxes.oauth.js";
import { resealLegacySecrets, sealSecret } from "./mailboxes.secrets.js";
import { outboundName, type CreateMailboxInput, type MailboxHealthView, type MailboxView, type PatchMailboxInput } from "./mailboxes.schema.js";
import { MailboxesStore, type MailboxRow } from "./mailboxes.store.js";
import { toMailboxView } from "./mailboxes.view.js";

// they lived here before the migration assistant shared them
export { toSourceSettings, tokenStep } from "./mailboxes.connection.js";

/** An inbound mailbox that an enabled application lists: what its runner needs. */
export interface EnabledInboundMailbox {
  id: string;
  name: string;
  type: MailProtocol;
  maxSizeMb: number;
  queueId: string;
  applicationId: string;
  /** changes whenever the mailbox's settings change: a runner restarts when it does */
  updatedAt: string;
  /** for OAuth 2.0 mailboxes the credential carries no token yet: the token service supplies it */
  settings: MailSourceSettings;
  auth: AuthSettings;
}

export interface MailboxStatusUpdate {
  state: MailboxStatusTable["state"];
  code?: string | null | undefined;
  message?: string | null | undefined;
  lastSyncAt?: string | null | undefined;
  /** the node whose runner reports: the mailbox's owner */
  nodeId?: string | null | undefined;
}

function problemsError(problems: FieldProblem[]): AppError {
  return new AppError("invalid_input", problems.map((p) => p.message).join("; "), problems);
}

export interface OutboundConnection {
  mailboxId: string;
  type: string;
  version: string;
  enabled: boolean;
  fromAddress: string | null;
  settings: { host: string; port: number; security: "tls" | "starttls" | "none"; login: string; credentials: CredentialProvider };
}

export class MailboxesService {
  readonly store: MailboxesStore;
  /** the OAuth migration assistant: verify, migrate, revert */
  readonly oauthMigration: OAuthMigration;
  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly secretBox: SecretBox,
    private readonly fromAddresses: FromAddressesService,
    private readonly log: Logger,
    private readonly tester: MailSourceTester | undefined,
    /** the token service: OAuth 2.0 mailboxes sign in with its tokens */
    private readonly oauth: OAuthCredentials | undefined = undefined,
  ) {
    this.store = new MailboxesStore(db);
    this.oauthMigration = new OAuthMigration({
      db,
      audit,
      clock,
      secretBox,
      log,
      tester,
      oauth,
      mailboxes: this.store,
      view: (id) => this.get(id),
      notifyChanged: () => this.notifyChanged(),
    });
  }

  /** Called after every commit that can change which inbound mailboxes are enabled, or any mailbox's settings. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  notifyChanged(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (err) {
        // the change is committed; a failing listener must not turn the API's answer into an error
        this.log.error({ err }, "mailbox change listener failed");
      }
    }
  }

  async list(filter: { clientType: "inbound" | "outbound" | "all"; q?: string | undefined }): Promise<MailboxView[]> {
    return (await this.store.list(filter)).map((r) => toMailboxView(r, this.clock.now()));
  }

  /** Every mailbox's state, its last error and warnings, and its secret's expiry: the supervisor's view of mail flow. */
  async health(): Promise<MailboxHealthView[]> {
    return (await this.list({ clientType: "all" })).map((m) => ({
      id: m.id,
      name: m.name,
      clientType: m.clientType,
      type: m.type,
      enabled: m.enabled,
      status: m.status,
      secretExpiry: m.auth.method === "oauth2" ? (m.auth.secretExpiry ?? null) : null,
    }));
  }

  /** Every OAuth 2.0 mailbox with a client secret expiry date, and where it stands: for the metric and the supervisor's view. */
  async secretExpiries(): Promise<{ name: string; daysLeft: number; state: "ok" | "expiring" | "expired" }[]> {
    const all = await this.list({ clientType: "all" });
    return all.flatMap((m) => (m.auth.method === "oauth2" && m.auth.secretExpiry ? [{ name: m.name, ...m.auth.secretExpiry }] : []));
  }

  async get(id: string): Promise<MailboxView> {
    const record = await this.store.byId(this.db, id);
    if (!record) throw AppError.notFound("The mailbox");
    return toMailboxView(record, this.clock.now());
  }

  async create(actor: Actor, input: CreateMailboxInput): Promise<MailboxView> {
    const { draft, problems } = draftFromCreate(input);
    problems.push(...(await this.folderProblems(draft, this.db)));
    if (problems.length > 0) throw problemsError(problems);
    const missing: FieldProblem[] = [];
    if (usesPassword(draft.auth) && input.password === undefined) missing.push({ path: "password", message: "Enter the mailbox password" });
    if (usesClientSecret(draft.auth) && input.clientSecret === undefined) {
      missing.push({ path: "clientSecret", message: "Enter the client secret of the Azure app (OAuth 2.0 client credentials)" });
    }
    if (missing.length > 0) throw new AppError("password_required", missing.map((p) => p.message).join("; "), missing);

    const now = this.clock.now().toISOString();
    const id = newId();
    const row: MailboxRow = {
      id,
      ...draftToColumns(draft),
      password_sealed: input.password === undefined ? null : sealSecret(this.secretBox, id, "password", input.password),
      client_secret_sealed: input.clientSecret === undefined ? null : sealSecret(this.secretBox, id, "client_secret", input.clientSecret),
      oauth_migrated_from: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.db.transaction().execute(async (trx) => {
        await this.store.insert(trx, row);
        await this.audit.record(trx, actor, "mailbox.create", { type: "mailbox", id: row.id }, { ...input });
      });
    } catch (err) {
      throw this.conflictOf(err, draft) ?? err;
    }
    this.notifyChanged();
    return this.get(row.id);
  }

  async update(actor: Actor, id: string, patch: PatchMailboxInput): Promise<MailboxView> {
    let next: MailboxDraft | undefined;
    try {
      await this.db.transaction().execute(async (trx) => {
        const current = await this.store.byId(trx, id);
        if (!current) throw AppError.notFound("The mailbox");
        const before = draftFromRow(current);
        const readOnly: FieldProblem[] = [];
        if (patch.name !== undefined && patch.name !== before.name) {
          readOnly.push({
            path: "name",
            message:
              before.clientType === "outbound"
                ? `The outbound mailbox is always named ${outboundName}`
                : "A mailbox name is set when the mailbox is created and cannot change; create a new mailbox instead",
          });
        }
        if (patch.clientType !== undefined && patch.clientType !== before.clientType) {
          readOnly.push({ path: "clientType", message: "Client type cannot change; create a new mailbox instead" });
        }
        if (readOnly.length > 0) throw new AppError("field_read_only", readOnly.map((p) => p.message).join("; "), readOnly);

        const applied = applyPatch(before, patch);
        next = applied.draft;
        const problems = [...applied.problems];
        if (patch.fromAddressFolderId !== undefined) problems.push(...(await this.folderProblems(next, trx)));
        if (problems.length > 0) throw problemsError(problems);
        const missing = this.secretsToRetype(current, before, next, patch);
        if (missing.length > 0) throw new AppError("password_required", missing.map((p) => p.message).join("; "), missing);

        await this.store.update(trx, id, {
          ...draftToColumns(next),
          ...(patch.password === undefined ? {} : { password_sealed: sealSecret(this.secretBox, id, "password", patch.password) }),
          ...(patch.clientSecret === undefined ? {} : { client_secret_sealed: sealSecret(this.secretBox, id, "client_secret", patch.clientSecret) }),
          // back on a password typed here: nothing is left for the migration assistant to revert
          ...(next.auth.method === "password" ? { oauth_migrated_from: null } : {}),
          updated_at: this.clock.now().toISOString(),
        });
        await this.audit.record(trx, actor, "mailbox.update", { type: "mailbox", id }, { ...patch });
      });
    } catch (err) {
      throw (next && this.conflictOf(err, next)) ?? err;
    }
    this.notifyChanged();
    return this.get(id);
  }

  async remove(actor: Actor, id: string): Promise<void> {
    try {
      await this.db.transaction().execute(async (trx) => {
        const current = await this.store.byId(trx, id);
        if (!current) throw AppError.notFound("The mailbox");
        if (current.enabled) {
          throw new AppError(
            "mailbox_enabled",
            current.client_type === "outbound"
              ? "The outbound mailbox is enabled while any application is enabled; disable the applications first."
              : "The mailbox is enabled: disable its application, or remove the mailbox from it, first.",
          );
        }
        await this.store.delete(trx, id);
        await this.audit.record(trx, actor, "mailbox.delete", { type: "mailbox", id }, { name: current.name, clientType: current.client_type });
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) {
        throw new AppError("in_use", "This mailbox is still referenced: Mailroom keeps the interactions that came from it, so it cannot be deleted.");
      }
      throw err;
    }
    this.notifyChanged();
  }

  /** The connection test: connects, signs in, opens the folder; never changes mail. Works on a disabled mailbox. */
  async test(id: string): Promise<{ ok: boolean; steps: TestStep[] }> {
    const record = await this.store.byId(this.db, id);
    if (!record) throw AppError.notFound("The mailbox");
    const deps = { tester: this.tester, oauth: this.oauth, secretBox: this.secretBox, log: this.log };
    return testConnection(deps, record, () => oauthAccount(record, this.secretBox));
  }

  /** The connectors' credential provider for an OAuth 2.0 mailbox (the token service), or nothing for a password mailbox. */
  private credentialsOf(row: MailboxRow): { credentials?: CredentialProvider } {
    const account = oauthAccount(row, this.secretBox);
    if (!account || !this.oauth) return {};
    return { credentials: this.oauth.credentials(account) };
  }

  /** Binds secrets sealed before v2 to their mailbox; run at start, before anything opens them. */
  resealLegacySecrets(): Promise<{ resealed: number; unreadable: number }> {
    return resealLegacySecrets(this.db, this.store, this.secretBox, this.log);
  }

  enabledIds(db: Kysely<Database>): Promise<Set<string>> {
    return this.store.enabledIds(db);
  }

  clientTypes(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, "inbound" | "outbound">> {
    return this.store.clientTypes(db, ids);
  }

  enabledInboundIds(types: readonly MailboxRow["type"][]): Promise<string[]> {
    return this.store.enabledInboundIds(types);
  }

  /** `only`: the mailboxes wanted (a node's leased share); the others' secrets are not opened */
  async listEnabledInbound(only: (mailboxId: string) => boolean = () => true): Promise<EnabledInboundMailbox[]> {
    const enabled: EnabledInboundMailbox[] = [];
    for (const row of await this.store.enabledInbound()) {
      if (!only(row.id)) continue;
      let settings: MailSourceSettings;
      try {
        settings = toSourceSettings(row, this.secretBox, { connectTimeoutMs: 15_000, allowInvalidCertificates: false, ...this.credentialsOf(row) });
      } catch (err) {
        // one unreadable secret must not keep every other mailbox from running: this one shows why it does not
        const message = err instanceof Error ? err.message : "The mailbox settings cannot be read.";
        this.log.error({ mailboxId: row.id }, message);
        await this.setStatus(row.id, { state: "error", code: "secret_unreadable", message });
        continue;
      }
      enabled.push({
        id: row.id,
        name: row.name,
        type: row.type as MailProtocol,
        maxSizeMb: row.max_size_mb ?? 5,
        queueId: row.queue_id,
        applicationId: row.application_id,
        updatedAt: row.updated_at,
        settings,
        auth: draftFromRow(row).auth,
      });
    }
    return enabled;
  }

  /** Something the administrator should know about the mailbox, shown with its status. */
  async recordWarning(mailboxId: string, code: string, message: string): Promise<void> {
    try {
      await this.store.addWarning(mailboxId, { code, message, at: this.clock.now().toISOString() }, newId());
    } catch (err) {
      // the mailbox was deleted meanwhile
      if (isForeignKeyViolation(err)) return;
      throw err;
    }
  }

  async clearWarnings(actor: Actor, id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (!(await this.store.byId(trx, id))) throw AppError.notFound("The mailbox");
      const cleared = await this.store.clearWarnings(trx, id);
      await this.audit.record(trx, actor, "mailbox.warnings.clear", { type: "mailbox", id }, { cleared });
    });
  }

  /**
   * With a fence, written only while the writer holds the mailbox's lease (FencedOutError otherwise);
   * `announce`: statements run in the same transaction (the change feed's notice of the new status).
   */
  async setStatus(mailboxId: string, update: MailboxStatusUpdate, fence?: Fence, announce: Compilable[] = []): Promise<void> {
    const row = {
      mailbox_id: mailboxId,
      state: update.state,
      code: update.code ?? null,
      message: update.message ?? null,
      last_sync_at: update.lastSyncAt ?? null,
      updated_at: this.clock.now().toISOString(),
      node_id: update.nodeId ?? null,
    };
    try {
      if (!fence && announce.length === 0) await this.store.upsertStatus(row);
      else {
        await this.db.transaction().execute(async (trx) => {
          if (fence) await executeReadings(trx, [fence.check()]);
          await this.store.upsertStatus(row, trx);
          await executeStatements(trx, announce);
        });
      }
    } catch (err) {
      // the mailbox was deleted while its runner was stopping: its status has nowhere to go
      if (isForeignKeyViolation(err)) return;
      throw err;
    }
  }

  /** Mailroom's own addresses, lower case: mail from them is a loop. */
  async ownAddresses(): Promise<Set<string>> {
    const own = new Set(await this.fromAddresses.allAddresses());
    const outbound = await this.store.outbound();
    if (outbound?.from_address) own.add(outbound.from_address.toLowerCase());
    for (const login of await this.store.inboundLogins()) {
      if (isEmailAddress(login)) own.add(login.toLowerCase());
    }
    return own;
  }

  /**
   * The outbound mailbox as a sender connects to it, with `enabled` (some enabled application exists)
   * and `version` (changes with every edit, so a sender knows to connect anew); null without one.
   */
  async outboundConnection(): Promise<OutboundConnection | null> {
    const row = await this.store.outbound();
    if (!row) return null;
    const enabled = (await this.store.enabledIds(this.db)).has(row.id);
    const settings = toSourceSettings(row, this.secretBox, this.credentialsOf(row));
    return {
      mailboxId: row.id,
      type: row.type,
      version: row.updated_at,
      enabled,
      fromAddress: row.from_address,
      settings: { host: settings.host, port: settings.port, security: settings.security, login: settings.login, credentials: settings.credentials },
    };
  }

  async outboundSender(): Promise<OutboundSender | null> {
    const outbound = await this.store.outbound();
    return outbound ? { fromAddress: outbound.from_address, fromAddressFolderId: outbound.from_address_folder_id } : null;
  }

  private async folderProblems(draft: MailboxDraft, db: Kysely<Database>): Promise<FieldProblem[]> {
    if (draft.fromAddressFolderId === null || (await this.fromAddresses.folderExists(draft.fromAddressFolderId, db))) return [];
    return [{ path: "fromAddressFolderId", message: "No business attribute folder has this id; create the folder first" }];
  }

  /** Secrets that must come with this patch because it sends them somewhere new (see passwordDestination). */
  private secretsToRetype(current: MailboxRow, before: MailboxDraft, next: MailboxDraft, patch: PatchMailboxInput): FieldProblem[] {
    const missing: FieldProblem[] = [];
    const passwordTo = passwordDestination(next);
    if (passwordTo !== null && patch.password === undefined) {
      if (passwordTo !== passwordDestination(before) || current.password_sealed === null) {
        missing.push({
          path: "password",
          message: "Type the password again: it is needed when the host, port, mailbox (login), type or sign-in method changes, or when security is switched to or from none",
        });
      }
    }
    const secretTo = clientSecretDestination(next);
    if (secretTo !== null && patch.clientSecret === undefined) {
      if (secretTo !== clientSecretDestination(before) || current.client_secret_sealed === null) {
        missing.push({
          path: "clientSecret",
          message: "Type the client secret again: it is needed when the client ID, directory ID, tenant authority or server changes, or when security is switched to or from none",
        });
      }
    }
    return missing;
  }

  /** A unique violation as the 409 it means; undefined when `err` is something else. */
  private conflictOf(err: unknown, draft: MailboxDraft): AppError | undefined {
    const violated = uniqueViolation(err);
    if (violated === null) return undefined;
    // the outbound name is fixed, so whichever of its constraints fires, it means "one already exists"
    if (draft.clientType === "outbound") {
      return new AppError("outbound_mailbox_exists", "There is already an outbound mailbox; Mailroom has one. Edit it instead.");
    }
    return new AppError("name_taken", `A mailbox named "${draft.name}" already exists.`, [{ path: "name", message: `A mailbox named "${draft.name}" already exists; choose another name.` }]);
  }
}
