import {
  MailSourceError,
  type AckOutcome,
  type FetchRequest,
  type Listing,
  type MailSession,
  type MailSource,
  type SessionTraits,
  type SourceMessage,
} from "../../src/connectors/mail-source.js";

/**
 * A maildrop in memory behind the MailSource seam, for tests of what comes after the connectors (the
 * sync loop with the database store, the runners). Keys are listed in the order messages arrived;
 * acknowledging removes a message in "remove" mode (like POP3 DELE) or marks it in "mark" mode (like
 * IMAP \Seen). Protocols themselves are tested against real servers.
 */
export class MemoryMaildrop {
  readonly messages: { key: string; raw: Buffer; acked: boolean }[] = [];
  /** every sync throws this while set (a broken server) */
  fail: Error | undefined;
  /** while set, fetches wait for it (a slow first sync of a large backlog) */
  fetchGate: Promise<void> | null = null;
  syncs = 0;
  /** new mail arrived since the last listing */
  dirty = false;
  private waiters: (() => void)[] = [];
  private next = 1;

  constructor(readonly traits: SessionTraits = { keysMayBeReused: false, ackRemoves: false }) {}

  deliver(raw: string | Buffer, key = `k${this.next++}`): string {
    this.messages.push({ key, raw: Buffer.from(raw), acked: false });
    this.dirty = true;
    for (const wake of this.waiters.splice(0)) wake();
    return key;
  }

  get acknowledged(): string[] {
    return this.messages.filter((m) => m.acked).map((m) => m.key);
  }

  source(maildrop = "memory"): MailSource {
    return new MemorySource(this, maildrop);
  }

  /** @internal */
  waitForNews(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

class MemorySource implements MailSource {
  readonly protocol = "IMAP" as const;
  readonly connected = false;
  closed = false;

  constructor(
    private readonly drop: MemoryMaildrop,
    readonly maildrop: string,
  ) {}

  async open(): Promise<MailSession> {
    if (this.closed) throw new MailSourceError("closed", "The mail source was closed.");
    this.drop.syncs++;
    if (this.drop.fail) throw this.drop.fail;
    return new MemorySession(this.drop);
  }

  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<"changed" | "timeout" | "aborted"> {
    // like an IMAP server, report what arrived since the last listing as soon as the wait begins
    if (this.drop.dirty) return Promise.resolve("changed");
    if (signal.aborted) return Promise.resolve("aborted");
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), timeoutMs);
      void this.drop.waitForNews().then(() => {
        clearTimeout(timer);
        resolve("changed");
      });
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve("aborted");
        },
        { once: true },
      );
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

class MemorySession implements MailSession {
  readonly traits: SessionTraits;

  constructor(private readonly drop: MemoryMaildrop) {
    this.traits = drop.traits;
  }

  async list(): Promise<Listing> {
    this.drop.dirty = false;
    const present = this.drop.messages.filter((m) => !(m.acked && this.traits.ackRemoves));
    return { epoch: "", reread: false, keys: present.map((m) => m.key), cursorThrough: () => null };
  }

  async sizes(keys: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const m of this.present(keys)) out.set(m.key, m.raw.length);
    return out;
  }

  async fetch(requests: FetchRequest[]): Promise<SourceMessage[]> {
    if (this.drop.fetchGate) await this.drop.fetchGate;
    return this.present(requests.map((r) => r.key)).map((m) => ({ sourceKey: m.key, raw: m.raw, size: m.raw.length, truncated: false, receivedAt: null }));
  }

  async acknowledge(keys: string[]): Promise<AckOutcome> {
    for (const m of this.present(keys)) m.acked = true;
    return { done: keys, pending: [], refused: null };
  }

  async finish(): Promise<string[]> {
    return [];
  }

  private present(keys: string[]) {
    const wanted = new Set(keys);
    return this.drop.messages.filter((m) => wanted.has(m.key) && !(m.acked && this.traits.ackRemoves));
  }
}
