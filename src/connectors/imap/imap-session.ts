import type { FetchMessageObject, ImapFlow } from "imapflow";
import {
  MailSourceError,
  MessageRefusedError,
  type AckOutcome,
  type FetchRequest,
  type Listing,
  type MailSession,
  type MailSourceSettings,
  type SessionTraits,
  type SourceMessage,
} from "../mail-source.js";
import type { ServerWordsLog } from "./imap-client.js";
import { imapError } from "./imap-errors.js";
import { chunks } from "../../shared/chunks.js";
import { parseImapCursor, uidSet, type ImapCursor } from "./imap-keys.js";

/** UIDs whose sizes one command asks for */
const sizesPerCommand = 200;

/**
 * One sync's use of an IMAP connection with its folder selected (the caller holds imapflow's mailbox
 * lock until finish). Keys are `uidvalidity:uid`: UIDs are never reused within one UIDVALIDITY, so
 * keys are never reused either.
 */
export class ImapSession implements MailSession {
  readonly traits: SessionTraits;
  private readonly folder: string;
  private readonly uidValidity: string;

  constructor(
    private readonly client: ImapFlow,
    private readonly settings: MailSourceSettings,
    private readonly lock: { release(): void },
    /** the server's words of the last refused command */
    private readonly words: ServerWordsLog,
    /** called right before the search, so mail arriving after it is remembered for waitForChange */
    private readonly onSearch: () => void,
  ) {
    const box = client.mailbox;
    if (!box) throw new MailSourceError("protocol_error", `The folder "${settings.folder}" is not selected.`);
    this.folder = box.path;
    this.uidValidity = box.uidValidity.toString();
    this.traits = { keysMayBeReused: false, ackRemoves: settings.acknowledge.mode === "move" };
  }

  async list(stored: string | null): Promise<Listing> {
    const cursor = parseImapCursor(stored);
    const sameEpoch = cursor !== null && cursor.uidValidity === this.uidValidity;
    // a new UIDVALIDITY renumbers everything: read the folder again from the start under new keys
    const fromUid = sameEpoch ? cursor.lastUid + 1 : 1;
    // the first-import rule holds for a first sync and for the re-read after a new UIDVALIDITY alike
    const onlyUnseen = !sameEpoch && this.settings.initialImport === "unseen";

    this.onSearch();
    const present = await this.search({ uid: `${fromUid}:*` }, fromUid);
    // `n:*` names the last message even when its UID is below n
    const scanTop = present.length ? present[present.length - 1]! : fromUid - 1;
    const wanted = onlyUnseen && present.length ? await this.search({ uid: `${fromUid}:*`, seen: false }, fromUid) : present;
    const at = (lastUid: number): string => JSON.stringify({ uidValidity: this.uidValidity, lastUid } satisfies ImapCursor);
    return {
      epoch: this.uidValidity,
      reread: cursor !== null && !sameEpoch,
      keys: wanted.map((uid) => this.key(uid)),
      // every UID up to the next wanted one was taken or not wanted (already \Seen on an "unseen" import)
      cursorThrough: (index) => {
        const next = wanted[index + 1];
        if (next !== undefined) return at(Math.max(next - 1, fromUid - 1));
        return at(Math.max(scanTop, wanted[index] ?? 0, fromUid - 1));
      },
    };
  }

  async sizes(keys: string[]): Promise<Map<string, number>> {
    const uids = this.uidsOf(keys);
    const sizes = new Map<string, number>();
    if (uids.length === 0) return sizes;
    const wanted = new Set(uids);
    // imapflow reads a command's answers without giving the server's thread to anyone else: a thousand
    // sizes at once held it for a few hundred ms (the API's slowest answers in bench:ingest, backlog)
    for (const part of chunks(uids, sizesPerCommand)) {
      const rows = await this.imap(() => this.client.fetchAll(uidSet(part), { uid: true, size: true }, { uid: true }));
      for (const row of rows) if (wanted.has(row.uid)) sizes.set(this.key(row.uid), row.size ?? 0);
    }
    return sizes;
  }

  async fetch(requests: FetchRequest[]): Promise<SourceMessage[]> {
    const messages: SourceMessage[] = [];
    const take = (rows: FetchMessageObject[], uids: number[], truncated: boolean) => {
      const wanted = new Set(uids);
      for (const row of rows) {
        const raw = truncated ? row.headers : row.source;
        // a message expunged meanwhile comes back without content, or not at all
        if (!wanted.has(row.uid) || !raw) continue;
        wanted.delete(row.uid);
        messages.push({
          sourceKey: this.key(row.uid),
          raw,
          size: row.size ?? raw.length,
          truncated,
          receivedAt: row.internalDate ? new Date(row.internalDate) : null,
        });
      }
    };
    const full = this.uidsOf(requests.filter((r) => !r.headersOnly).map((r) => r.key));
    const headersOnly = this.uidsOf(requests.filter((r) => r.headersOnly).map((r) => r.key));
    if (full.length) {
      const query = { uid: true, size: true, internalDate: true, source: true };
      take(await this.fetchRows(full, query), full, false);
    }
    if (headersOnly.length) {
      const query = { uid: true, size: true, internalDate: true, headers: true };
      take(await this.fetchRows(headersOnly, query), headersOnly, true);
    }
    return messages.sort((a, b) => uidOf(a.sourceKey) - uidOf(b.sourceKey));
  }

  /** \Seen or move, by UID; both are no-ops for UIDs that no longer exist. */
  async acknowledge(keys: string[]): Promise<AckOutcome> {
    const uids = this.uidsOf(keys);
    const current = new Set(uids.map((uid) => this.key(uid)));
    // keys of an older UIDVALIDITY cannot be addressed any more: there is nothing left to do for them
    const done = keys.filter((k) => !current.has(k));
    if (uids.length === 0) return { done, pending: [], refused: null };
    const set = uidSet(uids);
    const ack = this.settings.acknowledge;
    // imapflow answers false both for a NO and for a command it never sent (the server said BYE a moment
    // ago and the close is still pending): only words from the server make it a refusal
    this.words.last = undefined;
    const ok =
      ack.mode === "move"
        ? await this.imap(() => this.client.messageMove(set, ack.folder, { uid: true }))
        : await this.imap(() => this.client.messageFlagsAdd(set, ["\\Seen"], { uid: true, silent: true }));
    if (ok) return { done: keys, pending: [], refused: null };
    const words = this.words.last;
    if (!this.client.usable || words === undefined) {
      throw new MailSourceError("closed", `The connection to ${this.where} was lost while acknowledging messages.`);
    }
    return { done, pending: [], refused: { keys: [...current], serverText: words } };
  }

  async finish(): Promise<string[]> {
    this.lock.release();
    return [];
  }

  private get where(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  private key(uid: number): string {
    return `${this.uidValidity}:${uid}`;
  }

  /** The UIDs of keys of the current UIDVALIDITY, ascending; keys of another are left out. */
  private uidsOf(keys: string[]): number[] {
    const prefix = `${this.uidValidity}:`;
    const uids: number[] = [];
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const uid = Number(key.slice(prefix.length));
      if (Number.isInteger(uid) && uid > 0) uids.push(uid);
    }
    return uids.sort((a, b) => a - b);
  }

  private async fetchRows(uids: number[], query: Parameters<ImapFlow["fetchAll"]>[1]): Promise<FetchMessageObject[]> {
    try {
      return await this.client.fetchAll(uidSet(uids), query, { uid: true });
    } catch (err) {
      if (isRefusal(err) && this.client.usable) {
        const words = this.words.last ?? refusalWords(err);
        throw new MessageRefusedError(uids.map((uid) => this.key(uid)), `${this.where} refused to hand over UIDs ${uidSet(uids)}: ${words}`, words);
      }
      throw imapError(err, this.settings, this.folder);
    }
  }

  private async search(query: { uid: string; seen?: boolean }, fromUid: number): Promise<number[]> {
    const found = await this.imap(() => this.client.search(query, { uid: true }));
    if (!Array.isArray(found)) {
      const words = this.words.last;
      if (!this.client.usable) throw new MailSourceError("closed", `The connection to ${this.where} was lost while searching the folder "${this.folder}".`);
      throw new MailSourceError("protocol_error", `${this.where} refused searching the folder "${this.folder}"${words ? `: ${words}` : "."}`, words);
    }
    return found.filter((uid) => uid >= fromUid).sort((a, b) => a - b);
  }

  private async imap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw imapError(err, this.settings, this.folder);
    }
  }
}

function uidOf(key: string): number {
  return Number(key.slice(key.indexOf(":") + 1));
}

/** A command the server answered NO or BAD (not throttling): the command failed, the connection did not. */
function isRefusal(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const e = err as { responseStatus?: unknown; code?: unknown };
  return (e.responseStatus === "NO" || e.responseStatus === "BAD") && e.code !== "ETHROTTLE";
}

function refusalWords(err: unknown): string {
  const e = err as { responseText?: unknown; message?: unknown };
  if (typeof e.responseText === "string" && e.responseText) return e.responseText;
  return typeof e.message === "string" ? e.message : "refused";
}
