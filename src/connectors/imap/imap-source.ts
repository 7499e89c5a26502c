import type { ImapFlow } from "imapflow";
import { MailSourceError, maildropId, type MailSession, type MailSource, type MailSourceSettings } from "../mail-source.js";
import { ServerWordsLog, newImapClient, withDeadline } from "./imap-client.js";
import { imapError } from "./imap-errors.js";
import { ImapSession } from "./imap-session.js";

export interface ImapSourceOptions {
  /** IDLE is ended with a NOOP and started again this often; servers drop IDLE after ~30 min */
  idleRenewMs?: number;
  /** how long the renewal NOOP may take before the connection counts as dead */
  noopDeadlineMs?: number;
}

type WaitOutcome = "changed" | "timeout" | "aborted";

interface Waiter {
  settle(outcome: WaitOutcome): void;
  fail(err: MailSourceError): void;
}

const fiveMinutes = 5 * 60_000;

/**
 * One IMAP mailbox folder over one imapflow connection: open() gives the session of one sync,
 * waitForChange holds IDLE until the server reports new mail. The connection is opened by the first
 * call and lives until close(); once it breaks every call throws the MailSourceError that broke it.
 */
export class ImapSource implements MailSource {
  readonly protocol = "IMAP" as const;
  readonly maildrop: string;
  private client: ImapFlow | null = null;
  private failure: MailSourceError | null = null;
  private closing = false;
  /** an EXISTS with more messages arrived since the last search */
  private newMail = false;
  private waiter: Waiter | null = null;
  private idleLoop = false;
  private renewing = false;
  private renewals = 0;
  private ackFolderChecked = false;
  private readonly words = new ServerWordsLog();
  private readonly idleRenewMs: number;
  private readonly noopDeadlineMs: number;

  constructor(
    private readonly settings: MailSourceSettings,
    options: ImapSourceOptions = {},
  ) {
    this.maildrop = maildropId("IMAP", settings.host, settings.login, this.folder);
    this.idleRenewMs = options.idleRenewMs ?? fiveMinutes;
    this.noopDeadlineMs = options.noopDeadlineMs ?? Math.max(settings.connectTimeoutMs, 5_000);
  }

  /** how often IDLE was renewed with a NOOP; diagnostics */
  get idleRenewals(): number {
    return this.renewals;
  }

  private get folder(): string {
    return this.settings.folder || "INBOX";
  }

  private get where(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  get connected(): boolean {
    return this.client !== null && this.failure === null;
  }

  async open(): Promise<MailSession> {
    const client = await this.connect();
    const selectedBefore = client.mailbox !== false && client.mailbox.path === this.folder;
    let lock: { release(): void };
    try {
      lock = await client.getMailboxLock(this.folder);
    } catch (err) {
      throw this.failure ?? imapError(err, this.settings, this.folder);
    }
    try {
      // A server runs SEARCH on the session's view of the folder, which takes in new mail only
      // when a command ends; a folder selected in an earlier sync needs a NOOP to be current.
      if (selectedBefore) {
        await client.noop();
        // imapflow's noop() swallows a failed NOOP: an unusable connection is what tells
        if (!client.usable) this.broke(new MailSourceError("closed", `The connection to ${this.where} was lost.`));
        if (this.failure) throw this.failure;
      }
      if (this.settings.acknowledge.mode === "move" && !this.ackFolderChecked) {
        await this.checkFolder(client, this.settings.acknowledge.folder, "that acknowledged messages are moved to");
        this.ackFolderChecked = true;
      }
      return new ImapSession(client, this.settings, lock, this.words, () => {
        this.newMail = false;
      });
    } catch (err) {
      lock.release();
      // a broken connection explains a failed command better than the command's own error
      if (err instanceof MailSourceError && this.failure) throw this.failure;
      throw err;
    }
  }

  async waitForChange(timeoutMs: number, signal: AbortSignal): Promise<WaitOutcome> {
    if (this.failure) throw this.failure;
    if (signal.aborted) return "aborted";
    if (this.newMail) return "changed";
    const client = await this.connect();
    if (!client.mailbox) {
      // IDLE reports changes of the selected folder only
      try {
        (await client.getMailboxLock(this.folder)).release();
      } catch (err) {
        throw this.failure ?? imapError(err, this.settings, this.folder);
      }
    }
    if (this.waiter) throw new MailSourceError("protocol_error", "waitForChange was called while another wait was running.");

    return new Promise<WaitOutcome>((resolve, reject) => {
      let renewTimer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        clearTimeout(renewTimer);
        signal.removeEventListener("abort", onAbort);
        if (this.waiter === waiter) this.waiter = null;
      };
      const waiter: Waiter = {
        settle: (outcome) => {
          finish();
          resolve(outcome);
        },
        fail: (err) => {
          finish();
          reject(err);
        },
      };
      const timer = setTimeout(() => waiter.settle("timeout"), timeoutMs);
      const onAbort = () => waiter.settle("aborted");
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiter = waiter;
      // the signal or new mail may have come while connecting
      if (signal.aborted) return waiter.settle("aborted");
      if (this.newMail) return waiter.settle("changed");

      const renew = () => {
        renewTimer = undefined;
        if (this.waiter !== waiter) return;
        void this.renewIdle(client).then(() => {
          if (this.waiter === waiter) {
            renewTimer = setTimeout(renew, this.idleRenewMs);
            renewTimer.unref();
          }
        });
      };
      renewTimer = setTimeout(renew, this.idleRenewMs);
      renewTimer.unref();
      void this.keepIdling(client);
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.waiter?.settle("aborted");
    this.failure ??= new MailSourceError("closed", "The mail source was closed.");
    const client = this.client;
    this.client = null;
    if (!client) return;
    try {
      await withDeadline(client.logout(), 2_000, () => new Error("LOGOUT timed out"));
    } catch {
      // the server is gone or slow; closing the socket is all that is left to do
    } finally {
      client.close();
    }
  }

  private async connect(): Promise<ImapFlow> {
    if (this.failure) throw this.failure;
    if (this.client) return this.client;
    let client: ImapFlow;
    try {
      client = await newImapClient(this.settings, this.words);
    } catch (err) {
      throw this.remember(imapError(err, this.settings, this.folder));
    }
    // imapflow emits 'error' at most once and closes after it; without a listener Node would throw
    client.on("error", (err: Error) => this.broke(imapError(err, this.settings, this.folder)));
    client.on("close", () => {
      const bye = client.byeReason ? `: ${client.byeReason}` : ".";
      this.broke(new MailSourceError("closed", `The server ${this.where} closed the connection${bye}`, client.byeReason));
    });
    client.on("exists", (event: { count: number; prevCount: number }) => {
      if (event.count > event.prevCount) {
        this.newMail = true;
        this.waiter?.settle("changed");
      }
    });
    try {
      await client.connect();
    } catch (err) {
      const mapped = imapError(err, this.settings, this.folder);
      // an expired token is fetched anew for the next login rather than answered from a cache
      if (mapped.code === "auth_failed") this.settings.credentials.refused();
      client.close();
      throw this.remember(mapped);
    }
    // the connection may have broken right after the login; the narrowing above predates the await
    const failure = this.failure as MailSourceError | null;
    if (failure) {
      client.close();
      throw failure;
    }
    this.client = client;
    return client;
  }

  private remember(err: MailSourceError): MailSourceError {
    this.failure ??= err;
    return err;
  }

  private broke(err: MailSourceError): void {
    if (this.closing) return;
    this.failure ??= err;
    this.waiter?.fail(this.failure);
  }

  private async checkFolder(client: ImapFlow, folder: string, role: string): Promise<void> {
    let status: unknown;
    try {
      status = await client.status(folder, { messages: true });
    } catch (err) {
      status = false;
      if (this.failure) throw this.failure;
      const mapped = imapError(err, this.settings, folder);
      if (mapped.code !== "folder_missing") throw mapped;
    }
    if (!status) {
      throw new MailSourceError(
        "folder_missing",
        `The folder "${folder}" ${role} does not exist in the mailbox ${this.settings.login}. Create it or change the setting.`,
        this.words.last,
      );
    }
  }

  /**
   * Keeps IDLE running while a wait is pending; one loop per connection. IDLE ends when another
   * command needs the connection (the next sync breaks it) or when the renewal NOOP breaks it;
   * only the latter starts it again.
   */
  private async keepIdling(client: ImapFlow): Promise<void> {
    if (this.idleLoop) return;
    this.idleLoop = true;
    try {
      while (this.waiter && !this.failure) {
        const started = Date.now();
        let result: boolean | undefined;
        try {
          result = await client.idle({ whenFree: true });
        } catch (err) {
          this.broke(imapError(err, this.settings, this.folder));
          return;
        }
        if (result === false) return;
        // an IDLE the server ended on its own right away would spin; the renewal starts it again
        if (!this.renewing && Date.now() - started < 1_000) return;
      }
    } finally {
      this.idleLoop = false;
    }
  }

  /** Ends IDLE with a NOOP that must be answered in time, which also proves the server is alive. */
  private async renewIdle(client: ImapFlow): Promise<void> {
    if (this.failure) return;
    this.renewing = true;
    try {
      await withDeadline(
        client.noop(),
        this.noopDeadlineMs,
        () => new MailSourceError("timeout", `${this.where} did not answer a NOOP within ${this.noopDeadlineMs} ms.`),
      );
      this.renewals++;
      // imapflow's noop() swallows a failed NOOP; an unusable connection is what tells
      if (!client.usable) this.broke(new MailSourceError("closed", `The connection to ${this.where} was lost.`));
    } catch (err) {
      this.broke(imapError(err, this.settings, this.folder));
      client.close();
    } finally {
      this.renewing = false;
    }
    if (this.waiter && !this.failure) void this.keepIdling(client);
  }
}
