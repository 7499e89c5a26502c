import type { FetchMessageObject, ImapFlow } from "imapflow";
import {
  MailSourceError,
  type FolderCursor,
  type MailSourceSettings,
  type SourceMessage,
  type SyncContext,
  type SyncReport,
} from "../mail-source.js";
import { chunks, defaultBatchLimits, imapSourceKey, planBatches, uidOfKey, uidSet, type PlannedBatch } from "./imap-batches.js";
import { imapError } from "./imap-errors.js";

export interface ImapSyncOptions {
  /** fetch batch k+1 while batch k is being committed */
  pipeline: boolean;
  maxCount: number;
  maxBytes: number;
  /** how many UIDs one size lookup (and one repair STORE) covers; bounds memory on a first sync of a large folder */
  sizeWindow: number;
}

export const defaultSyncOptions: ImapSyncOptions = { pipeline: true, ...defaultBatchLimits, sizeWindow: 1000 };

interface FetchedBatch {
  messages: SourceMessage[];
  cursorUid: number;
}

/**
 * One sync of the selected folder: repair what was committed but not acknowledged, then take every
 * new message in batches — fetch, commit, and only then acknowledge. The caller holds the mailbox lock.
 */
export class ImapFolderSync {
  private readonly folder: string;
  private readonly uidValidity: string;
  private report: SyncReport = { fetched: 0, acked: 0 };

  constructor(
    private readonly client: ImapFlow,
    private readonly settings: MailSourceSettings,
    private readonly ctx: SyncContext,
    private readonly options: ImapSyncOptions,
    /** the server's words of the last refused command, for error messages */
    private readonly lastServerWords: () => string | undefined,
    /** called right before the search, so mail arriving after it is remembered for waitForChange */
    private readonly onSearch: () => void,
  ) {
    const box = client.mailbox;
    if (!box) throw new MailSourceError("protocol_error", `The folder "${settings.folder}" is not selected.`);
    this.folder = box.path;
    this.uidValidity = box.uidValidity.toString();
  }

  async run(): Promise<SyncReport> {
    const ctx = this.ctx;
    const cursor = await ctx.loadCursor(this.folder);
    const sameEpoch = cursor !== null && cursor.uidValidity === this.uidValidity;
    // a new UIDVALIDITY renumbers everything: read the folder again from the start under new keys
    const fromUid = sameEpoch ? cursor.lastUid + 1 : 1;
    const onlyUnseen = cursor === null && this.settings.initialImport === "unseen";

    await this.repair();

    this.onSearch();
    const present = await this.search({ uid: `${fromUid}:*` }, fromUid);
    // `n:*` names the last message even when its UID is below n
    const scanTop = present.length ? present[present.length - 1]! : fromUid - 1;
    const wanted = onlyUnseen && present.length ? await this.search({ uid: `${fromUid}:*`, seen: false }, fromUid) : present;

    if (wanted.length === 0) {
      // the first sync (or the first after a new UIDVALIDITY) records where it stands, so mail
      // that was skipped as \Seen is not taken later
      if (!sameEpoch) await ctx.commit([], this.cursor(scanTop));
      return this.report;
    }
    await this.takeAll(wanted, scanTop);
    return this.report;
  }

  /** Acknowledges what an earlier sync committed but could not acknowledge (a crash or a lost connection came between). */
  private async repair(): Promise<void> {
    const unacked = await this.ctx.unackedKeys();
    if (unacked.length === 0) return;
    const uids: number[] = [];
    for (const key of unacked) {
      const uid = uidOfKey(key, this.uidValidity);
      // keys of an older UIDVALIDITY cannot be addressed any more: nothing to acknowledge there
      if (uid !== null) uids.push(uid);
    }
    for (const part of chunks(uids, this.options.sizeWindow)) await this.acknowledge(part);
    await this.ctx.markAcked(unacked);
    this.report.acked += unacked.length;
  }

  private async takeAll(wanted: number[], scanTop: number): Promise<void> {
    const windows = chunks(wanted, this.options.sizeWindow);
    const planned: PlannedBatch[] = [];
    let windowIndex = 0;
    const nextBatch = async (): Promise<FetchedBatch | null> => {
      while (planned.length === 0 && windowIndex < windows.length) {
        const window = windows[windowIndex]!;
        const following = windows[windowIndex + 1];
        windowIndex++;
        const top = following ? following[0]! - 1 : scanTop;
        planned.push(...planBatches(await this.sizes(window), { ...this.options, maxMessageBytes: this.ctx.maxMessageBytes }, top));
      }
      const batch = planned.shift();
      if (!batch) return null;
      const fetched = await this.fetchBatch(batch);
      // with the pipeline this runs while the batch before is committing: its parse can start now
      this.ctx.prepare?.(fetched.messages);
      return fetched;
    };

    let pending: Promise<FetchedBatch | null> | null = nextBatch();
    while (pending) {
      const batch: FetchedBatch | null = await pending;
      pending = null;
      if (!batch) break;
      if (this.options.pipeline && !this.ctx.signal.aborted) pending = quiet(nextBatch());
      try {
        await this.ctx.commit(batch.messages, this.cursor(batch.cursorUid));
        this.report.fetched += batch.messages.length;
        const uids = batch.messages.map((m) => Number(m.sourceKey.slice(this.uidValidity.length + 1)));
        await this.acknowledge(uids);
        await this.ctx.markAcked(batch.messages.map((m) => m.sourceKey));
        this.report.acked += batch.messages.length;
      } catch (err) {
        // the prefetch shares the connection; let it finish before the lock is released
        if (pending) await pending.catch(() => null);
        throw err;
      }
      if (this.ctx.signal.aborted) {
        if (pending) await pending.catch(() => null);
        break;
      }
      if (!this.options.pipeline) pending = nextBatch();
    }
  }

  private cursor(lastUid: number): FolderCursor {
    return { folder: this.folder, uidValidity: this.uidValidity, lastUid };
  }

  private async search(query: { uid: string; seen?: boolean }, fromUid: number): Promise<number[]> {
    const found = await this.imap(() => this.client.search(query, { uid: true }));
    if (!Array.isArray(found)) {
      throw this.refused(`searching the folder "${this.folder}"`);
    }
    return found.filter((uid) => uid >= fromUid).sort((a, b) => a - b);
  }

  private async sizes(uids: number[]): Promise<{ uid: number; size: number }[]> {
    const rows = await this.imap(() => this.client.fetchAll(uidSet(uids), { uid: true, size: true }, { uid: true }));
    const wanted = new Set(uids);
    return rows.filter((r) => wanted.has(r.uid)).map((r) => ({ uid: r.uid, size: r.size ?? 0 }));
  }

  private async fetchBatch(batch: PlannedBatch): Promise<FetchedBatch> {
    const messages: SourceMessage[] = [];
    const take = (rows: FetchMessageObject[], uids: number[], truncated: boolean) => {
      const wanted = new Set(uids);
      for (const row of rows) {
        const raw = truncated ? row.headers : row.source;
        // a message expunged meanwhile comes back without content, or not at all
        if (!wanted.has(row.uid) || !raw) continue;
        wanted.delete(row.uid);
        messages.push({
          sourceKey: imapSourceKey(this.uidValidity, row.uid),
          raw,
          size: row.size ?? raw.length,
          truncated,
          receivedAt: row.internalDate ? new Date(row.internalDate) : null,
        });
      }
    };
    if (batch.full.length) {
      const query = { uid: true, size: true, internalDate: true, source: true };
      take(await this.imap(() => this.client.fetchAll(uidSet(batch.full), query, { uid: true })), batch.full, false);
    }
    if (batch.headersOnly.length) {
      const query = { uid: true, size: true, internalDate: true, headers: true };
      take(await this.imap(() => this.client.fetchAll(uidSet(batch.headersOnly), query, { uid: true })), batch.headersOnly, true);
    }
    messages.sort((a, b) => keyUid(a.sourceKey) - keyUid(b.sourceKey));
    return { messages, cursorUid: batch.cursorUid };
  }

  /** \Seen or move, by UID; both are no-ops for UIDs that no longer exist. */
  private async acknowledge(uids: number[]): Promise<void> {
    if (uids.length === 0) return;
    const set = uidSet(uids);
    const ack = this.settings.acknowledge;
    if (ack.mode === "move") {
      const moved = await this.imap(() => this.client.messageMove(set, ack.folder, { uid: true }));
      if (!moved) throw this.refused(`moving messages to "${ack.folder}"`, ack.folder);
      return;
    }
    const stored = await this.imap(() => this.client.messageFlagsAdd(set, ["\\Seen"], { uid: true, silent: true }));
    if (!stored) throw this.refused("marking messages as seen");
  }

  private async imap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw imapError(err, this.settings, this.folder);
    }
  }

  /** A command imapflow answered with `false`: the connection broke, or the server said no. */
  private refused(what: string, folder?: string): MailSourceError {
    const where = `${this.settings.host}:${this.settings.port}`;
    if (!this.client.usable) return new MailSourceError("closed", `The connection to ${where} was lost while ${what}.`);
    const words = this.lastServerWords();
    if (folder && words && /\[(TRYCREATE|NONEXISTENT)\]/.test(words)) {
      return new MailSourceError(
        "folder_missing",
        `The folder "${folder}" that acknowledged messages are moved to does not exist in the mailbox ${this.settings.login}.`,
        words,
      );
    }
    return new MailSourceError("protocol_error", `${where} refused ${what}${words ? `: ${words}` : "."}`, words);
  }
}

function keyUid(key: string): number {
  return Number(key.slice(key.indexOf(":") + 1));
}

/** Marks a promise's rejection as handled now; awaiting it later still throws. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
