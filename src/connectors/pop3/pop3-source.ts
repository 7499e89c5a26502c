import {
  MailSourceError,
  type MailSource,
  type MailSourceSettings,
  type SourceMessage,
  type SyncContext,
  type SyncReport,
} from "../mail-source.js";
import { Pop3Client } from "./pop3-client.js";
import { pop3Error } from "./pop3-errors.js";

export interface Pop3SourceOptions {
  /** messages per commit */
  maxCount?: number;
  /** bytes per commit (a single larger message still goes alone) */
  maxBytes?: number;
}

interface Entry {
  n: number;
  key: string;
  size: number;
}

/** Logs in with the mailbox's credential: USER/PASS, or SASL XOAUTH2 with an access token. */
export async function pop3Login(client: Pop3Client, settings: MailSourceSettings): Promise<void> {
  if (settings.credential.method === "xoauth2") await client.loginXoauth2(settings.login, settings.credential.accessToken);
  else await client.login(settings.login, settings.credential.password);
}

export function pop3Connect(settings: MailSourceSettings): Promise<Pop3Client> {
  return Pop3Client.connect({
    host: settings.host,
    port: settings.port,
    security: settings.security,
    allowInvalidCertificates: settings.allowInvalidCertificates,
    connectTimeoutMs: settings.connectTimeoutMs,
  });
}

/**
 * One POP3 maildrop. Every sync is one session: UIDL, take what is not stored, commit, then (in
 * "delete" mode) DELE and QUIT. POP3 locks the maildrop for the session, so none is kept open.
 */
export class Pop3Source implements MailSource {
  readonly protocol = "POP3" as const;
  private client: Pop3Client | null = null;
  private closed = false;
  private readonly maxCount: number;
  private readonly maxBytes: number;

  constructor(
    private readonly settings: MailSourceSettings,
    options: Pop3SourceOptions = {},
  ) {
    // small transactions keep the API answering while a backlog drains (see defaultBatchLimits for IMAP)
    this.maxCount = options.maxCount ?? 50;
    this.maxBytes = options.maxBytes ?? 2 * 1024 * 1024;
  }

  async sync(ctx: SyncContext): Promise<SyncReport> {
    if (this.closed) throw new MailSourceError("closed", "The mail source was closed.");
    let client: Pop3Client;
    try {
      client = await pop3Connect(this.settings);
      this.client = client;
      await pop3Login(client, this.settings);
    } catch (err) {
      this.dropClient();
      throw pop3Error(err, this.settings);
    }
    try {
      return await this.syncSession(client, ctx);
    } catch (err) {
      throw err instanceof Error && isFromContext(err) ? err : pop3Error(err, this.settings);
    } finally {
      this.dropClient();
    }
  }

  async waitForChange(timeoutMs: number, signal: AbortSignal): Promise<"changed" | "timeout" | "aborted"> {
    if (this.closed) throw new MailSourceError("closed", "The mail source was closed.");
    if (signal.aborted) return "aborted";
    // POP3 cannot tell about new mail; the next sync looks
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve("timeout");
      }, timeoutMs);
      const onAbort = () => {
        clearTimeout(timer);
        resolve("aborted");
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.dropClient();
  }

  private dropClient(): void {
    this.client?.close();
    this.client = null;
  }

  private async syncSession(client: Pop3Client, ctx: SyncContext): Promise<SyncReport> {
    const report: SyncReport = { fetched: 0, acked: 0 };
    const deleting = this.settings.acknowledge.mode === "delete";
    const uidl = await client.uidl();
    const sizes = await client.list();
    const entries: Entry[] = [...uidl].map(([n, key]) => ({ n, key, size: sizes.get(n) ?? 0 })).sort((a, b) => a.n - b.n);
    const present = new Set(entries.map((e) => e.key));
    const known = await guarded(ctx.knownKeys(entries.map((e) => e.key)));
    const unacked = await guarded(ctx.unackedKeys());

    // stored but still here: committed before a crash or a failed QUIT; in "delete" mode they go now
    const toDelete = deleting ? entries.filter((e) => known.has(e.key)) : [];
    // acknowledged already where the message is gone (the QUIT went through, markAcked did not)
    const settled = unacked.filter((key) => !present.has(key) || !deleting);
    const newEntries = entries.filter((e) => !known.has(e.key));

    for (const e of toDelete) await client.dele(e.n);
    const batches = this.plan(newEntries);
    let pending: Promise<SourceMessage[]> | null = batches.length ? this.fetch(client, batches[0]!, ctx) : null;
    let failure: Error | null = null;
    for (let i = 0; pending; i++) {
      const messages = await pending;
      pending = null;
      if (i + 1 < batches.length && !ctx.signal.aborted) pending = quiet(this.fetch(client, batches[i + 1]!, ctx));
      try {
        await guarded(ctx.commit(messages));
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
        if (pending) await pending.catch(() => null);
        break;
      }
      report.fetched += messages.length;
      if (deleting) {
        for (const e of batches[i]!) await client.dele(e.n);
        toDelete.push(...batches[i]!);
      } else {
        await guarded(ctx.markAcked(messages.map((m) => m.sourceKey)));
        report.acked += messages.length;
      }
      if (ctx.signal.aborted) {
        if (pending) await pending.catch(() => null);
        break;
      }
    }

    // only a clean QUIT applies the DELEs; acknowledge them after its +OK
    await client.quit();
    const acked = [...settled, ...toDelete.map((e) => e.key)];
    if (acked.length) await guarded(ctx.markAcked(acked));
    report.acked += acked.length;
    if (failure !== null) throw failure;
    return report;
  }

  private plan(entries: Entry[]): Entry[][] {
    const batches: Entry[][] = [];
    let current: Entry[] = [];
    let bytes = 0;
    for (const e of entries) {
      const cost = e.size > 0 ? Math.min(e.size, this.maxBytes) : 0;
      if (current.length >= this.maxCount || (current.length > 0 && bytes + cost > this.maxBytes)) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(e);
      bytes += cost;
    }
    if (current.length) batches.push(current);
    return batches;
  }

  private async fetch(client: Pop3Client, batch: Entry[], ctx: SyncContext): Promise<SourceMessage[]> {
    const out: SourceMessage[] = [];
    for (const e of batch) {
      const truncated = e.size > ctx.maxMessageBytes;
      // TOP n 0 is the header block and the blank line after it
      const raw = truncated ? await client.top(e.n, 0) : await client.retr(e.n);
      out.push({ sourceKey: e.key, raw, size: e.size || raw.length, truncated, receivedAt: null });
    }
    return out;
  }
}

/** Errors of the store side pass through as they are; they are not the mail server's. */
const fromContext = new WeakSet<Error>();

async function guarded<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof Error) fromContext.add(err);
    throw err;
  }
}

function isFromContext(err: Error): boolean {
  return fromContext.has(err);
}

function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
