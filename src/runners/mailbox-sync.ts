import {
  MailSourceError,
  MessageRefusedError,
  type FetchRequest,
  type Listing,
  type MailSession,
  type SourceMessage,
} from "../connectors/mail-source.js";
import { messageFingerprint } from "../ingest/fingerprint.js";
import { UnstorableBatchError, type BatchCommit, type CommitOutcome, type KeyRecord, type Prepared, type SetAside, type SyncStore } from "../ingest/sync-store.js";
import { chunks } from "../shared/chunks.js";
import { planBatches, type PlannedItem } from "./sync-plan.js";
import type { Lane, SyncHooks, SyncLimits, SyncReport, SyncResume, SyncStart } from "./sync-types.js";

/** Batches a backlog stores per turn (see #pipeline). */
const stintBatches = 8;
/** The longest a backlog holds back, once a stint, while new mail of other mailboxes is taken. */
const newMailPauseMs = 250;

export {
  defaultSyncLimits,
  type Lane,
  type SyncHooks,
  type SyncLimits,
  type SyncReport,
  type SyncResume,
  type SyncScheduler,
  type SyncStart,
  type WarningCode,
} from "./sync-types.js";

/**
 * One sync of one maildrop, the same for every protocol (design invariant 1): repair what an earlier
 * sync committed but could not acknowledge, then take every new message in batches — fetch, commit,
 * and only then acknowledge. A message the server will not hand over is tried again alone and then set
 * aside; a message the database will not take is found by committing smaller parts and stored wrapped
 * (invariant 2: no message blocks its mailbox).
 */

interface Fetched {
  items: PlannedItem[];
  messages: SourceMessage[];
  skipped: (SetAside & { index: number })[];
  prepared: Prepared | null;
}

export class MailboxSync {
  readonly #report: SyncReport = { fetched: 0, created: 0, duplicates: 0, alreadyStored: 0, acked: 0, skipped: 0, unstorable: 0, lane: "urgent" };
  /** acknowledgements sent that only finish() confirms (POP3 DELE) */
  readonly #pending: string[] = [];
  #listing: Listing | null = null;
  #storedCursor: string | null = null;
  #acks: Promise<void> = Promise.resolve();
  /** a fetch broke the connection: the fetches queued behind it fail too, through no fault of their messages */
  #connectionLost = false;
  #ackFailure: Error | null = null;
  /** ends this sync's mark as possibly new mail (see SyncScheduler.newMail) */
  #newMail: (() => void) | null = null;
  /** keys this sync found or stored whose acknowledgement the database does not record as done or refused */
  readonly #unsettled = new Set<string>();
  #resume: SyncResume | null = null;

  constructor(
    private readonly session: MailSession,
    private readonly store: SyncStore,
    private readonly limits: SyncLimits,
    private readonly hooks: SyncHooks,
    private readonly start: SyncStart,
  ) {}

  async run(): Promise<SyncReport> {
    // until its listing says it is a backlog, a sync may be new mail: backlogs hold back for it
    this.#newMail = this.start.newMail ?? this.hooks.scheduler?.newMail() ?? null;
    try {
      await this.#run();
      await this.#acknowledged();
    } catch (err) {
      await this.#acks;
      // what was committed and sent for acknowledgement still counts: POP3's QUIT applies those DELEs
      if (!(err instanceof MailSourceError)) await this.#finish().catch(() => undefined);
      throw err;
    } finally {
      this.#newMail?.();
    }
    await this.#finish();
    if (!this.#aborted && this.#unsettled.size === 0) this.#resume = { cursor: this.#storedCursor };
    return this.#report;
  }

  /** After a run that stored nothing it left unacknowledged: where the next sync on this connection may begin. */
  get resume(): SyncResume | null {
    return this.#resume;
  }

  /** the database records these keys' acknowledgement as done or refused, or the keys as retired */
  #settle(keys: Iterable<string>): void {
    for (const key of keys) this.#unsettled.delete(key);
  }

  #setLane(lane: Lane): void {
    this.#report.lane = lane;
    if (lane === "bulk") this.#newMail?.();
  }

  get #aborted(): boolean {
    return this.hooks.signal.aborted;
  }

  async #run(): Promise<void> {
    const { resume, firstOnConnection } = this.start;
    // both reads at once: new mail waits for the database once before the listing, not once before and
    // once after; and not at all after a sync on this connection that left everything acknowledged
    const [cursor, unacked] = resume ? [resume.cursor, []] : await Promise.all([this.store.loadCursor(), this.store.unacknowledged(firstOnConnection)]);
    for (const r of unacked) this.#unsettled.add(r.key);
    this.#storedCursor = cursor;
    const listing = await this.session.list(this.#storedCursor);
    this.#listing = listing;
    await this.#repair(listing, unacked);
    await this.#take(listing);
  }

  async #finish(): Promise<void> {
    const confirmed = await this.session.finish();
    this.#pending.length = 0;
    if (confirmed.length) {
      await this.#transaction(() => this.store.markAcknowledged(confirmed, this.session.traits.ackRemoves));
      this.#settle(confirmed);
      this.#report.acked += confirmed.length;
    }
  }

  /** Acknowledges what is stored but not acknowledged: a crash, a lost connection or a failed QUIT came between. */
  async #repair(listing: Listing, unacked: KeyRecord[]): Promise<void> {
    const { keysMayBeReused, ackRemoves } = this.session.traits;
    if (!keysMayBeReused) {
      await this.#acknowledge(unacked.map((r) => r.key));
      return;
    }
    const present = new Set(listing.keys);
    // the acknowledgement went through (POP3: the QUIT did, recording it did not), or someone removed it
    const gone = unacked.filter((r) => !present.has(r.key)).map((r) => r.key);
    if (gone.length) {
      await this.#transaction(() => this.store.markAcknowledged(gone, true));
      this.#settle(gone);
    }
    const here = unacked.filter((r) => present.has(r.key));
    if (here.length) await this.#acknowledgeVerified(here);
    if (!ackRemoves) {
      // messages left on the server: once gone, the server may give their keys to new messages
      const left = (await this.store.liveKeys()).filter((r) => !present.has(r.key)).map((r) => r.key);
      if (left.length) await this.#transaction(() => this.store.retire(left));
    }
  }

  /**
   * On a server that may reuse keys, a key stored but not acknowledged may by now name another message
   * (the first one was removed after all, and the key given to a new one): only the message whose bytes
   * were stored is acknowledged; another one under that key is new.
   */
  async #acknowledgeVerified(records: KeyRecord[]): Promise<void> {
    const same: string[] = [];
    const other: string[] = [];
    for (const part of chunks(records, this.limits.maxCount)) {
      let fetched: SourceMessage[];
      try {
        // fetched the way it was stored (whole, or its header block), whatever Max size is now, so the fingerprints compare
        fetched = await this.session.fetch(part.map((r) => ({ key: r.key, headersOnly: r.truncated })));
      } catch (err) {
        // which message is there cannot be told now; nothing is acknowledged, the next sync looks again
        if (err instanceof MessageRefusedError) continue;
        throw err;
      }
      const byKey = new Map(fetched.map((m) => [m.sourceKey, m]));
      for (const r of part) {
        const message = byKey.get(r.key);
        if (!message) continue;
        if (r.contentHash === null || messageFingerprint(message) === r.contentHash) same.push(r.key);
        else other.push(r.key);
      }
    }
    if (other.length) {
      await this.#transaction(() => this.store.retire(other));
      this.#settle(other);
      this.hooks.warn("key_reused", `The server gave ${describeKeys(other)} to new messages before Mailroom confirmed it had removed the ones stored under them; the new messages are taken as new.`);
    }
    await this.#acknowledge(same);
  }

  async #acknowledge(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    for (const key of keys) this.#unsettled.add(key);
    const outcome = await this.session.acknowledge(keys);
    if (outcome.done.length) {
      await this.#transaction(() => this.store.markAcknowledged(outcome.done, this.session.traits.ackRemoves));
      this.#settle(outcome.done);
      this.#report.acked += outcome.done.length;
    }
    this.#pending.push(...outcome.pending);
    if (outcome.refused) {
      await this.#transaction(() => this.store.markRefused(outcome.refused!.keys));
      // tried again on the next connection (`firstOnConnection`), not by the next sync on this one
      this.#settle(outcome.refused.keys);
      const n = outcome.refused.keys.length;
      this.hooks.warn(
        "ack_refused",
        `The server refused to mark ${n === 1 ? "a stored message" : `${n} stored messages`} as taken (${outcome.refused.serverText}). ` +
          "They were stored and stay as they are on the server; new mail is still taken. Give the login the right to change flags " +
          "(or to delete or move mail); Mailroom tries again each time it connects anew.",
      );
    }
  }

  async #take(listing: Listing): Promise<void> {
    const keys = listing.keys;
    // more than a window is a backlog whatever is stored of it: its windows wait for a turn too
    const backlog = keys.length > this.limits.window && this.hooks.scheduler !== undefined;
    if (backlog) this.#setLane("bulk");
    await this.#pipeline(windowsOf(keys.length, this.limits), (w) => this.#window(keys, w));
    if (this.#aborted) return;
    // everything listed is now taken, set aside, known or gone: the cursor moves past all of it
    const end = listing.cursorThrough(keys.length - 1);
    if (end !== null && end !== this.#storedCursor) {
      await this.#transaction(() => this.store.saveCursor(end));
      this.#storedCursor = end;
    }
  }

  /**
   * What of a window of the listing is to be fetched, and how: its keys looked up, their sizes asked.
   * For twenty backlogs starting at once that was twenty thousand size answers to read at the same
   * moment, and new mail of a quiet mailbox waited behind them (bench:ingest, fairness): a backlog's
   * window waits for a turn like its batches.
   */
  async #window(keys: string[], { start, end }: Window): Promise<PlannedItem[]> {
    const { keysMayBeReused, ackRemoves } = this.session.traits;
    const windowKeys = keys.slice(start, end);
    // keys that may be reused and are kept on the server: a stored key listed with another size is another
    // message; and a few keys are most likely new mail: either way all sizes are asked while the keys are
    // looked up, rather than those of the new ones after
    const urgentCount = this.hooks.urgentCount ?? this.limits.maxCount;
    const sizeAll = keysMayBeReused && !ackRemoves;
    const allSizes = sizeAll || keys.length <= urgentCount ? quiet(this.session.sizes(windowKeys)) : null;
    const records = await this.store.lookup(windowKeys).catch(async (err: unknown) => {
      // the session is the sync's: nothing of this window may still use it once the sync moves on
      await allSizes?.catch(() => undefined);
      throw err;
    });
    const wanted: { key: string; index: number; attempts: number; aside: string | null; knownSize: number }[] = [];
    const reused: string[] = [];
    const listedSizes = sizeAll ? await allSizes! : null;
    windowKeys.forEach((key, i) => {
      const index = start + i;
      const r = records.get(key);
      if (!r) wanted.push({ key, index, attempts: 0, aside: null, knownSize: 0 });
      else if (r.state === "failing") {
        const aside = r.attempts >= this.limits.maxAttempts ? `fetching it broke the connection ${r.attempts} times (${r.reason ?? "no reason given"})` : null;
        wanted.push({ key, index, attempts: r.attempts, aside, knownSize: r.size });
      } else if (r.state === "stored") {
        // removed once acknowledged, yet listed again; or kept, and listed with another size: another message
        const removedAndBack = keysMayBeReused && ackRemoves && r.ack === "done";
        const resized = listedSizes !== null && listedSizes.has(key) && listedSizes.get(key) !== r.size;
        if (removedAndBack || resized) {
          reused.push(key);
          wanted.push({ key, index, attempts: 0, aside: null, knownSize: 0 });
        }
      }
    });
    if (reused.length) {
      await this.#transaction(() => this.store.retire(reused));
      this.hooks.warn("key_reused", `The server gave ${describeKeys(reused)} to new messages after the ones stored under them were gone; they are taken as new.`);
    }
    if (start === 0) this.#setLane(keys.length <= this.limits.window && wanted.length <= urgentCount ? "urgent" : "bulk");
    const toSize = wanted.filter((w) => w.aside === null).map((w) => w.key);
    const sizes = allSizes ? await allSizes : toSize.length ? await this.session.sizes(toSize) : new Map<string, number>();
    const items: PlannedItem[] = [];
    for (const w of wanted) {
      if (w.aside !== null) {
        items.push({ key: w.key, index: w.index, size: w.knownSize, headersOnly: false, attempts: w.attempts, aside: w.aside });
        continue;
      }
      const size = sizes.get(w.key);
      // gone since the listing
      if (size === undefined) continue;
      items.push({ key: w.key, index: w.index, size, headersOnly: size > this.limits.maxMessageBytes, attempts: w.attempts, aside: null });
    }
    return items;
  }

  /**
   * Takes the windows' new messages in batches. Fetches run ahead of the commits (`prefetch` batches),
   * so that the parse workers always have the next batch while the database stores this one, and the
   * next window is looked up and sized behind the last fetch of the one before, while its batches are
   * stored; they share the session, which runs them in order.
   *
   * A backlog (bulk) holds a turn from the scheduler while it does this, and after a stint of batches
   * gives it up when another backlog waits for one: backlogs take turns, and what a node runs at once
   * stays small enough that new mail of other mailboxes finds room (bench:ingest, fairness). A backlog
   * nobody waits for keeps its turn and its pipeline full: giving the turn up emptied the pipeline, and
   * the database and the parse workers stood idle until the next stint's first fetch, and again at every
   * window's lookup (bench:ingest, backlog). That full pipeline took the machine from new mail of
   * other mailboxes (bench:ingest, fairness: +33 to +57 ms at p50 against +27 to +32 before), so while a
   * sync that may be new mail runs, a backlog starts no fetch and no commit, once a stint for at most
   * `newMailPauseMs`.
   */
  async #pipeline(windows: Window[], plan: (w: Window) => Promise<PlannedItem[]>): Promise<void> {
    const scheduler = this.hooks.scheduler;
    const ahead: Promise<Fetched>[] = [];
    const planned: PlannedItem[][] = [];
    let nextWindow = 0;
    /** the next window being planned; its batches join `planned` when it is */
    let planning = null as Promise<void> | null;
    let release: (() => void) | null = null;
    let fetchedInTurn = 0;
    /** this stint held back for new mail already */
    let heldBack = false;
    /** the pipeline failed or was stopped: a window planned meanwhile starts no fetch */
    let ended = false;
    /** a backlog fetches and stores in a turn; a window of few new messages (urgent) needs none */
    const turnWanted = () => this.#report.lane === "bulk" && scheduler !== undefined && release === null;
    /** new mail of another mailbox is being taken: it gets the machine, once a stint at most */
    const newMailFirst = () => release !== null && !heldBack && scheduler!.newMailRunning();
    const holdBack = async () => {
      heldBack = true;
      await scheduler!.newMailDone(newMailPauseMs);
    };
    const newStint = () => {
      fetchedInTurn = 0;
      heldBack = false;
    };
    const fill = () => {
      // nothing of a backlog without a turn (a window that turned out to be one asks for it first)
      if (ended || turnWanted()) return;
      while (ahead.length <= this.limits.prefetch && !this.#aborted) {
        if (release && fetchedInTurn >= stintBatches) {
          // the stint is over: another backlog's turn once what is under way is stored
          if (scheduler!.bulkWaiting()) return;
          newStint();
        }
        if (newMailFirst()) return;
        const batch = planned.shift();
        if (batch) {
          ahead.push(quiet(this.#fetchBatch(batch)));
          if (release) fetchedInTurn++;
        }
        if (planned.length === 0 && planning === null && nextWindow < windows.length) {
          const items = plan(windows[nextWindow++]!);
          planning = quiet(
            items.then((found) => {
              planned.push(...planBatches(found, this.limits));
              planning = null;
              fill();
            }),
          );
        }
        if (!batch) return;
      }
    };
    const discardAll = async () => {
      ended = true;
      await planning?.catch(() => null);
      for (const pending of ahead.splice(0)) await pending.catch(() => null);
    };
    try {
      while (!this.#aborted) {
        if (turnWanted()) {
          release = await scheduler!.bulkTurn();
          // a new turn is a new stint, also after another backlog's turn
          newStint();
        }
        fill();
        const next = ahead.shift();
        if (!next) {
          // a window is being looked up: its batches come, or its failure
          if (planning) await planning;
          else if (planned.length === 0 && nextWindow >= windows.length) return;
          else if (newMailFirst()) await holdBack();
          else if (release) {
            // the stint ended for another backlog's turn: this one asks again, behind it
            release();
            release = null;
          }
          continue;
        }
        const fetched = await next;
        fill();
        if (this.#ackFailure) throw this.#ackFailure;
        // a commit started now would make new mail's wait for the whole of it
        if (newMailFirst()) await holdBack();
        await this.#commitAndAcknowledge(fetched);
      }
    } catch (err) {
      // the prefetches share the session; let them finish before the caller moves on
      await discardAll();
      throw err;
    } finally {
      if (this.#aborted) await discardAll();
      release?.();
    }
  }

  async #fetchBatch(batch: PlannedItem[]): Promise<Fetched> {
    const skipped = batch.filter((p) => p.aside !== null).map((p) => ({ key: p.key, size: p.size, reason: p.aside!, index: p.index }));
    const toFetch = batch.filter((p) => p.aside === null);
    let messages: SourceMessage[] = [];
    try {
      if (toFetch.length) messages = await this.#fetchOnce(toFetch);
    } catch (err) {
      if (!(err instanceof MessageRefusedError)) throw err;
      // the server refused something in this batch: one by one, so that the others flow
      messages = [];
      for (const item of toFetch) {
        let words = err.serverText ?? err.message;
        let got: SourceMessage[] | null = null;
        for (let attempt = 0; attempt < this.limits.maxAttempts && got === null; attempt++) {
          try {
            got = await this.#fetchOnce([item]);
          } catch (again) {
            if (!(again instanceof MessageRefusedError)) throw again;
            words = again.serverText ?? again.message;
          }
        }
        if (got) messages.push(...got);
        else skipped.push({ key: item.key, size: item.size, index: item.index, reason: `the server refused to hand it over (${words})` });
      }
    }
    this.#report.fetched += messages.length;
    return { items: batch, messages, skipped, prepared: messages.length ? this.store.prepare(messages, this.#report.lane === "urgent") : null };
  }

  async #fetchOnce(items: PlannedItem[]): Promise<SourceMessage[]> {
    const requests: FetchRequest[] = items.map((p) => ({ key: p.key, headersOnly: p.headersOnly }));
    try {
      return await this.session.fetch(requests);
    } catch (err) {
      // if a message breaks the connection every time, counting lets the next syncs find and set it aside; only
      // the fetch that was on the wire is charged, not those queued behind it on the same connection
      if (err instanceof MailSourceError && !this.#aborted && !this.#connectionLost) {
        this.#connectionLost = true;
        await this.#transaction(() => this.store.recordAttempt(items.map((p) => ({ key: p.key, size: p.size })), err.message)).catch(() => undefined);
      }
      throw err;
    }
  }

  async #commitAndAcknowledge(fetched: Fetched): Promise<void> {
    if (fetched.messages.length === 0 && fetched.skipped.length === 0) return;
    const outcome = await this.#commitIsolating(fetched);
    this.hooks.committed?.(outcome.created);
    this.#report.created += outcome.created.length;
    this.#report.duplicates += outcome.duplicates;
    this.#report.alreadyStored += outcome.alreadyStored;
    this.#report.skipped += fetched.skipped.length;
    for (const s of fetched.skipped) {
      this.hooks.warn(
        "message_skipped",
        `A message (${describeKeys([s.key])}, ${s.size} bytes) was set aside: ${s.reason}. It stays on the server as it is and Mailroom does not try it again; ` +
          "the messages after it were taken. Repair or remove it on the server.",
      );
    }
    this.#acknowledgeLater(fetched.messages.map((m) => m.sourceKey));
  }

  /**
   * Acknowledgements follow their commits in order, but the next commit does not wait for them: an
   * acknowledgement shares the connection with the fetches running ahead and would hold the database
   * idle behind them. A failed acknowledgement fails the sync at the next step.
   */
  #acknowledgeLater(keys: string[]): void {
    const previous = this.#acks;
    this.#acks = previous.then(() => (this.#ackFailure ? undefined : this.#acknowledge(keys))).catch((err: unknown) => {
      this.#ackFailure ??= err instanceof Error ? err : new Error(String(err));
    });
  }

  /** Waits for the acknowledgements under way; throws the first that failed. */
  async #acknowledged(): Promise<void> {
    await this.#acks;
    if (this.#ackFailure) throw this.#ackFailure;
  }

  /** Commits the batch; when the database refuses its data, finds the message by committing halves. */
  async #commitIsolating(f: Fetched): Promise<CommitOutcome> {
    const listing = this.#listing!;
    const lastIndex = Math.max(...f.items.map((p) => p.index));
    const batch: BatchCommit = {
      messages: f.messages,
      skipped: f.skipped.map(({ key, size, reason }) => ({ key, size, reason })),
      cursor: listing.cursorThrough(lastIndex),
      epoch: listing.epoch,
      reread: listing.reread,
      prepared: f.prepared,
    };
    // parsed first: a batch that waits for its parse must not hold the database from everyone else meanwhile
    await f.prepared?.settled;
    try {
      const outcome = await this.#transaction(() => this.store.commit(batch));
      if (batch.cursor !== null) this.#storedCursor = batch.cursor;
      return outcome;
    } catch (err) {
      if (!(err instanceof UnstorableBatchError) || f.messages.length === 0) throw err;
      if (f.messages.length === 1) return this.#commitWrapped(f.messages[0]!, err, batch);
      const indexOf = new Map(f.items.map((p) => [p.key, p.index]));
      const ordered = [...f.messages].sort((a, b) => indexOf.get(a.sourceKey)! - indexOf.get(b.sourceKey)!);
      const boundary = indexOf.get(ordered[Math.ceil(ordered.length / 2) - 1]!.sourceKey)!;
      const part = (inLeft: boolean): Fetched => ({
        items: f.items.filter((p) => (p.index <= boundary) === inLeft),
        messages: ordered.filter((m) => (indexOf.get(m.sourceKey)! <= boundary) === inLeft),
        skipped: f.skipped.filter((s) => (s.index <= boundary) === inLeft),
        prepared: f.prepared,
      });
      const left = await this.#commitIsolating(part(true));
      const right = await this.#commitIsolating(part(false));
      return { created: [...left.created, ...right.created], duplicates: left.duplicates + right.duplicates, alreadyStored: left.alreadyStored + right.alreadyStored };
    }
  }

  async #commitWrapped(message: SourceMessage, err: UnstorableBatchError, batch: BatchCommit): Promise<CommitOutcome> {
    let outcome: CommitOutcome;
    try {
      outcome = await this.#transaction(() => this.store.commitUnstorable(message, err.message, batch));
    } catch {
      // even the wrapped form was refused: the database itself is the problem, not this message
      throw err;
    }
    if (batch.cursor !== null) this.#storedCursor = batch.cursor;
    this.#report.unstorable++;
    this.hooks.warn(
      "message_unstorable",
      `A message (${describeKeys([message.sourceKey])}) could not be stored as it is (${err.message}); it was stored as a wrapped interaction with the original attached, and the mail after it was taken.`,
    );
    return outcome;
  }

  /**
   * Every write of the sync goes through the scheduler's writer slots by lane, the bookkeeping after an
   * acknowledgement too: on SQLite the one writer otherwise served those of twenty draining backlogs
   * before the commit of a quiet mailbox's new mail (bench:ingest, fairness).
   */
  #transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.hooks.scheduler ? this.hooks.scheduler.transaction(this.#report.lane, fn) : fn();
  }
}

/** A part of the listing, looked up and sized at once. */
interface Window {
  start: number;
  end: number;
}

/**
 * The listing's windows. A backlog's first one is small and each next one twice as large, up to
 * `window`: the first batches are fetched and stored while the next window is sized, rather than after
 * a thousand sizes were asked and read (~140 ms of the server's thread at first, bench:ingest).
 */
function windowsOf(count: number, limits: SyncLimits): Window[] {
  const windows: Window[] = [];
  let size = count > limits.window ? Math.min(limits.window, (limits.prefetch + 2) * limits.maxCount) : limits.window;
  for (let start = 0; start < count; ) {
    const end = Math.min(count, start + size);
    windows.push({ start, end });
    start = end;
    size = Math.min(limits.window, size * 2);
  }
  return windows;
}

function describeKeys(keys: string[]): string {
  const shown = keys.slice(0, 3).map((k) => `"${k.length > 60 ? `${k.slice(0, 60)}…` : k}"`);
  const more = keys.length > 3 ? ` and ${keys.length - 3} more` : "";
  return `${keys.length === 1 ? "key" : "keys"} ${shown.join(", ")}${more}`;
}

/** Marks a promise's rejection as handled now; awaiting it later still throws. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
