import { createHash } from "node:crypto";
import {
  MailSourceError,
  MessageRefusedError,
  maildropId,
  type AckOutcome,
  type FetchRequest,
  type Listing,
  type MailSession,
  type MailSource,
  type MailSourceSettings,
  type SessionTraits,
  type SourceMessage,
} from "../mail-source.js";
import { sleep } from "../../shared/sleep.js";
import { Pop3Client, Pop3CommandError } from "./pop3-client.js";
import { pop3Error } from "./pop3-errors.js";

/** Logs in with the mailbox's credential: USER/PASS, or SASL XOAUTH2 with an access token. */
export async function pop3Login(client: Pop3Client, settings: MailSourceSettings): Promise<void> {
  const credential = await settings.credentials.get();
  try {
    if (credential.method === "xoauth2") await client.loginXoauth2(settings.login, credential.accessToken);
    else await client.login(settings.login, credential.password);
  } catch (err) {
    // an expired token is fetched anew for the next login rather than answered from a cache
    if (err instanceof Pop3CommandError) settings.credentials.refused();
    throw err;
  }
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
 * "delete" mode) DELE, and QUIT, which applies the DELEs. POP3 locks the maildrop for the session, so
 * no session is kept open between syncs.
 */
export class Pop3Source implements MailSource {
  readonly protocol = "POP3" as const;
  readonly maildrop: string;
  readonly connected = false;
  private session: Pop3Session | null = null;
  private closed = false;

  constructor(private readonly settings: MailSourceSettings) {
    this.maildrop = maildropId("POP3", settings.host, settings.login, null);
  }

  async open(): Promise<MailSession> {
    if (this.closed) throw new MailSourceError("closed", "The mail source was closed.");
    this.session?.close();
    let client: Pop3Client | null = null;
    try {
      client = await pop3Connect(this.settings);
      await pop3Login(client, this.settings);
      await client.capa();
    } catch (err) {
      client?.close();
      throw pop3Error(err, this.settings);
    }
    this.session = new Pop3Session(client, this.settings);
    return this.session;
  }

  async waitForChange(timeoutMs: number, signal: AbortSignal): Promise<"changed" | "timeout" | "aborted"> {
    if (this.closed) throw new MailSourceError("closed", "The mail source was closed.");
    if (signal.aborted) return "aborted";
    // POP3 cannot tell about new mail; the next sync looks
    await sleep(timeoutMs, signal);
    return signal.aborted ? "aborted" : "timeout";
  }

  async close(): Promise<void> {
    this.closed = true;
    this.session?.close();
    this.session = null;
  }
}

interface Entry {
  n: number;
  size: number;
}

/**
 * One logged-in POP3 session. Keys are UIDLs. RFC 1939 lets a server give a UIDL to a new message once
 * the old one is gone, and broken servers list one UIDL for two messages: such twins get keys that
 * include a hash of their bytes, so that each is stored, and deleted, on its own.
 */
class Pop3Session implements MailSession {
  readonly traits: SessionTraits;
  private readonly entries = new Map<string, Entry>();
  private readonly deleted: string[] = [];
  private listed = false;
  /** the server answered TOP with -ERR once: it has no TOP (optional in RFC 1939) */
  private noTop = false;

  constructor(
    private readonly client: Pop3Client,
    private readonly settings: MailSourceSettings,
  ) {
    this.traits = { keysMayBeReused: true, ackRemoves: settings.acknowledge.mode === "delete" };
  }

  async list(): Promise<Listing> {
    const [uidl, sizes] = await this.run(async () => [await this.client.uidl(), await this.client.list()] as const);
    const byUidl = new Map<string, number[]>();
    for (const [n, id] of [...uidl].sort((a, b) => a[0] - b[0])) byUidl.set(id, [...(byUidl.get(id) ?? []), n]);
    for (const [id, numbers] of byUidl) {
      if (numbers.length === 1) {
        this.entries.set(id, { n: numbers[0]!, size: sizes.get(numbers[0]!) ?? 0 });
        continue;
      }
      const seen = new Map<string, number>();
      for (const n of numbers) {
        const digest = await this.digestOf(n);
        const count = (seen.get(digest) ?? 0) + 1;
        seen.set(digest, count);
        this.entries.set(`${id}#${digest}${count > 1 ? `#${count}` : ""}`, { n, size: sizes.get(n) ?? 0 });
      }
    }
    this.listed = true;
    const keys = [...this.entries].sort((a, b) => a[1].n - b[1].n).map(([key]) => key);
    return { epoch: "", reread: false, keys, cursorThrough: () => null };
  }

  async sizes(keys: string[]): Promise<Map<string, number>> {
    if (!this.listed) await this.list();
    const out = new Map<string, number>();
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry) out.set(key, entry.size);
    }
    return out;
  }

  async fetch(requests: FetchRequest[]): Promise<SourceMessage[]> {
    const out: SourceMessage[] = [];
    for (const { key, headersOnly } of requests) {
      const entry = this.entries.get(key);
      if (!entry) continue;
      let raw: Buffer;
      try {
        raw = headersOnly ? await this.headerBlock(entry.n) : await this.retrieve(entry.n);
      } catch (err) {
        if (err instanceof Pop3CommandError && this.client.usable) {
          throw new MessageRefusedError([key], `${this.where} refused ${err.command} of message ${entry.n}: ${err.serverText}`, err.serverText);
        }
        throw pop3Error(err, this.settings);
      }
      out.push({ sourceKey: key, raw, size: entry.size || raw.length, truncated: headersOnly, receivedAt: null });
    }
    return out;
  }

  async acknowledge(keys: string[]): Promise<AckOutcome> {
    if (!this.traits.ackRemoves) return { done: keys, pending: [], refused: null };
    const done: string[] = [];
    const pending: string[] = [];
    const refused: string[] = [];
    let words = "";
    for (const key of keys) {
      const entry = this.entries.get(key);
      // not in this session's listing: gone already, nothing left to delete
      if (!entry) {
        done.push(key);
        continue;
      }
      try {
        await this.client.dele(entry.n);
        pending.push(key);
        this.deleted.push(key);
      } catch (err) {
        if (!(err instanceof Pop3CommandError) || !this.client.usable) throw pop3Error(err, this.settings);
        refused.push(key);
        words = err.serverText;
      }
    }
    return { done, pending, refused: refused.length ? { keys: refused, serverText: words } : null };
  }

  /** QUIT: only a QUIT the server answered with +OK applies the DELEs. */
  async finish(): Promise<string[]> {
    try {
      await this.client.quit();
    } catch (err) {
      this.client.close();
      throw pop3Error(err, this.settings);
    }
    return this.deleted.splice(0);
  }

  close(): void {
    this.client.close();
  }

  private get where(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  private retrieve(n: number): Promise<Buffer> {
    return this.client.retr(n);
  }

  /** What tells twins under one UIDL apart: their bytes (or, where the server refuses them, their number). */
  private async digestOf(n: number): Promise<string> {
    try {
      return createHash("sha256").update(await this.retrieve(n)).digest("hex").slice(0, 16);
    } catch (err) {
      if (err instanceof Pop3CommandError && this.client.usable) return `n${n}`;
      throw pop3Error(err, this.settings);
    }
  }

  /** TOP n 0 is the header block and the blank line after it; without TOP, a RETR that keeps only that. */
  private async headerBlock(n: number): Promise<Buffer> {
    if (this.noTop) return this.client.retrHead(n);
    try {
      return await this.client.top(n, 0);
    } catch (err) {
      if (!(err instanceof Pop3CommandError) || !this.client.usable) throw err;
      this.noTop = true;
      return this.client.retrHead(n);
    }
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw pop3Error(err, this.settings);
    }
  }
}
