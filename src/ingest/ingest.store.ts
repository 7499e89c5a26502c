import { createHash } from "node:crypto";
import { sql, type Compilable, type ExpressionBuilder, type Insertable, type Kysely, type QueryResult } from "kysely";
import type {
  AttachmentsTable,
  Database,
  InteractionHistoryTable,
  InteractionsTable,
  MessagesTable,
  OutboxTable,
  SourceKeysTable,
  ThreadRefsTable,
} from "../db/schema.js";
import { executeReadings, type Reading } from "../db/statement-batch.js";
import { chunks } from "../shared/chunks.js";
import { newId } from "../shared/ids.js";
import type { KnownRef } from "./batch-rows.js";
import type { AutoAckTemplate } from "./auto-ack.js";
import type { HeldThread, RouteRule } from "./routing.js";
import type { KeyRecord } from "./sync-store.js";

/**
 * The SQL of ingestion: what is recorded of each maildrop's keys, the connectors' cursors, and the
 * writing of messages and their interactions (the interactions feature reads them). Everything a btree index holds is
 * bounded here, so no message can carry a value the database refuses to index (PostgreSQL refuses index
 * rows over ~2.7 KB: a Message-ID of 1,000 multi-byte characters did that, and blocked its mailbox).
 */

const maxIndexedLength = 200;

/** Keys in one IN list, rows in one multi-row insert: well under both databases' limits on a statement's parameters. */
const perStatement = 500;

/**
 * The conditions of the partial indexes of source_keys, as literals: SQLite uses a partial index only
 * when the query repeats its WHERE terms, and a bound parameter (`retired = ?`) does not count. With a
 * parameter every lookup scanned the whole table (seen in bench:ingest as a drain slowing to a crawl).
 */
const liveRow = sql.lit(0);

function bounded(value: string): string {
  return value.length <= maxIndexedLength ? value : `#sha256:${createHash("sha256").update(value).digest("hex")}`;
}

/** The form of a source key that the unique index holds (the same rule as migration 0003). */
export const lookupKey = bounded;
/** The form of a Message-ID that thread references are kept and looked up by. */
export const threadKey = bounded;

type SourceKeyRow = Insertable<SourceKeysTable>;

/** A key to record with a commit. */
export type NewKey = { key: string; epoch: string; size: number; truncated: boolean; at: string } & (
  | { state: "stored"; messageId: string }
  | { state: "skipped"; reason: string }
);

export interface MaildropRef {
  mailboxId: string;
  maildrop: string;
}

export class IngestStore {
  constructor(private readonly db: Kysely<Database>) {}

  private liveKeysQuery(db: Kysely<Database>, ref: MaildropRef) {
    return db
      .selectFrom("source_keys as s")
      .leftJoin("messages as m", "m.id", "s.message_id")
      .select(["s.source_key", "s.state", "s.ack", "s.size", "s.truncated", "s.attempts", "s.reason", "m.content_hash"])
      .where("s.mailbox_id", "=", ref.mailboxId)
      .where("s.maildrop", "=", ref.maildrop)
      .where("s.retired", "=", liveRow);
  }

  async lookup(ref: MaildropRef, keys: string[]): Promise<Map<string, KeyRecord>> {
    const found = new Map<string, KeyRecord>();
    for (const part of chunks(keys, perStatement)) {
      const rows = await this.liveKeysQuery(this.db, ref).where("s.lookup_key", "in", part.map(lookupKey)).execute();
      for (const row of rows) found.set(row.source_key, toRecord(row));
    }
    return found;
  }

  async unacknowledged(ref: MaildropRef, includeRefused: boolean): Promise<KeyRecord[]> {
    const rows = await this.liveKeysQuery(this.db, ref)
      .where("s.state", "=", sql.lit("stored"))
      .where("s.ack", "<>", sql.lit("done"))
      .where("s.ack", "in", includeRefused ? ["pending", "refused"] : ["pending"])
      .limit(10_000)
      .execute();
    return rows.map(toRecord);
  }

  async liveKeys(ref: MaildropRef): Promise<KeyRecord[]> {
    return (await this.liveKeysQuery(this.db, ref).execute()).map(toRecord);
  }

  /** The live state of each of these keys that has one, inside a transaction: what a commit checks before storing. */
  liveStates(trx: Kysely<Database>, ref: MaildropRef, keys: string[]): Reading<Map<string, SourceKeysTable["state"]>> {
    return {
      statements: chunks(keys, perStatement).map((part) => trx.selectFrom("source_keys").select(["source_key", "state"]).where(live(ref, part))),
      result: (results) => {
        const states = new Map<string, SourceKeysTable["state"]>();
        for (const row of rowsOf<{ source_key: string; state: SourceKeysTable["state"] }>(results)) states.set(row.source_key, row.state);
        return states;
      },
    };
  }

  /** Records keys as stored or set aside, replacing the "failing" records of `replacing`: the statements. */
  recordKeys(trx: Kysely<Database>, ref: MaildropRef, rows: NewKey[], replacing: string[]): Compilable[] {
    const statements: Compilable[] = [];
    if (replacing.length) statements.push(trx.deleteFrom("source_keys").where(live(ref, replacing)).where("state", "=", "failing"));
    const values: SourceKeyRow[] = rows.map((key) => ({
      id: newId(),
      mailbox_id: ref.mailboxId,
      maildrop: ref.maildrop,
      source_key: key.key,
      lookup_key: lookupKey(key.key),
      epoch: key.epoch,
      state: key.state,
      message_id: key.state === "stored" ? key.messageId : null,
      ack: "pending",
      retired: 0,
      size: key.size,
      truncated: key.truncated ? 1 : 0,
      attempts: 0,
      reason: key.state === "skipped" ? key.reason : null,
      created_at: key.at,
      updated_at: key.at,
    }));
    for (const part of chunks(values, perStatement)) statements.push(trx.insertInto("source_keys").values(part));
    return statements;
  }

  async markAcknowledged(ref: MaildropRef, keys: string[], retire: boolean, at: string): Promise<void> {
    for (const part of chunks(keys, perStatement)) {
      await this.db
        .updateTable("source_keys")
        .set({ ack: "done", updated_at: at, ...(retire ? { retired: 1 } : {}) })
        .where(live(ref, part))
        .where("state", "=", "stored")
        .execute();
    }
  }

  async markRefused(ref: MaildropRef, keys: string[], at: string): Promise<void> {
    for (const part of chunks(keys, perStatement)) {
      await this.db
        .updateTable("source_keys")
        .set({ ack: "refused", updated_at: at })
        .where(live(ref, part))
        .where("state", "=", "stored")
        .execute();
    }
  }

  async retire(ref: MaildropRef, keys: string[], at: string): Promise<void> {
    for (const part of chunks(keys, perStatement)) {
      await this.db.updateTable("source_keys").set({ retired: 1, updated_at: at }).where(live(ref, part)).execute();
    }
  }

  async recordAttempt(ref: MaildropRef, keys: { key: string; size: number }[], reason: string, at: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const [states] = await executeReadings(trx, [this.liveStates(trx, ref, keys.map((k) => k.key))]);
      for (const { key, size } of keys) {
        const state = states.get(key) ?? null;
        if (state === "failing") {
          await trx
            .updateTable("source_keys")
            .set((eb) => ({ attempts: eb("attempts", "+", 1), reason, updated_at: at }))
            .where(live(ref, [key]))
            .execute();
        } else if (state === null) {
          await trx
            .insertInto("source_keys")
            .values({
              id: newId(), mailbox_id: ref.mailboxId, maildrop: ref.maildrop, source_key: key, lookup_key: lookupKey(key), epoch: "",
              state: "failing", message_id: null, ack: "pending", retired: 0, size, truncated: 0, attempts: 1, reason, created_at: at, updated_at: at,
            })
            .execute();
        }
      }
    });
  }

  async loadCursor(ref: MaildropRef): Promise<string | null> {
    const row = await this.db
      .selectFrom("source_cursors")
      .select("cursor")
      .where("mailbox_id", "=", ref.mailboxId)
      .where("maildrop", "=", ref.maildrop)
      .executeTakeFirst();
    return row?.cursor ?? null;
  }

  /** The statement that saves the connector's cursor. */
  saveCursor(trx: Kysely<Database>, ref: MaildropRef, cursor: string, at: string): Compilable {
    return trx
      .insertInto("source_cursors")
      .values({ mailbox_id: ref.mailboxId, maildrop: ref.maildrop, cursor, updated_at: at })
      .onConflict((oc) => oc.columns(["mailbox_id", "maildrop"]).doUpdateSet({ cursor, updated_at: at }));
  }

  /**
   * The stored messages of the mailbox with these fingerprints, oldest first, with their Message-IDs:
   * a message is a redelivery of one with the same Message-ID and fingerprint.
   */
  byFingerprints(trx: Kysely<Database>, mailboxId: string, contentHashes: string[]): Reading<{ id: string; messageId: string | null; contentHash: string }[]> {
    const unique = [...new Set(contentHashes)];
    return {
      statements: chunks(unique, perStatement).map((part) =>
        trx.selectFrom("messages").select(["id", "internet_message_id", "content_hash"]).where("mailbox_id", "=", mailboxId).where("content_hash", "in", part),
      ),
      result: (results) => {
        const rows = rowsOf<{ id: string; internet_message_id: string | null; content_hash: string | null }>(results);
        const out = rows.map((r) => ({ id: r.id, messageId: r.internet_message_id, contentHash: r.content_hash ?? "" }));
        // sorted here: ORDER BY id made SQLite walk the mailbox's rows in id order rather than use the fingerprint index
        return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      },
    };
  }

  /**
   * In a re-read after the maildrop renumbered: a stored message with the same bytes that no key of
   * this epoch claims yet. Matching one for one keeps two identical messages two, also in the re-read.
   */
  async rereadMatch(trx: Kysely<Database>, ref: MaildropRef, epoch: string, contentHash: string, claimed: ReadonlySet<string>): Promise<string | undefined> {
    let query = trx
      .selectFrom("messages as i")
      .select("i.id")
      .where("i.mailbox_id", "=", ref.mailboxId)
      .where("i.content_hash", "=", contentHash)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom("source_keys as s")
              .select("s.id")
              .whereRef("s.message_id", "=", "i.id")
              .where("s.mailbox_id", "=", ref.mailboxId)
              .where("s.maildrop", "=", ref.maildrop)
              .where("s.epoch", "=", epoch),
          ),
        ),
      )
      .orderBy("i.id");
    // claimed earlier in this very batch, whose keys are not written yet
    if (claimed.size) query = query.where("i.id", "not in", [...claimed]);
    const row = await query.limit(1).executeTakeFirst();
    return row?.id;
  }

  /** The messages of a batch, their interactions, attachments and thread references: a statement per table (per few hundred rows). */
  insertMessages(
    trx: Kysely<Database>,
    rows: {
      messages: Insertable<MessagesTable>[];
      interactions: Insertable<InteractionsTable>[];
      history: Insertable<InteractionHistoryTable>[];
      attachments: Insertable<AttachmentsTable>[];
      threadRefs: Insertable<ThreadRefsTable>[];
      outbox: Insertable<OutboxTable>[];
    },
  ): Compilable[] {
    return [
      // 26 columns a row: 200 rows stay well under both databases' limits on the parameters of one statement
      ...chunks(rows.messages, 200).map((part) => trx.insertInto("messages").values(part)),
      ...chunks(rows.interactions, perStatement / 2).map((part) => trx.insertInto("interactions").values(part)),
      ...chunks(rows.history, perStatement).map((part) => trx.insertInto("interaction_history").values(part)),
      ...chunks(rows.attachments, perStatement).map((part) => trx.insertInto("attachments").values(part)),
      ...chunks(rows.threadRefs, perStatement).map((part) => trx.insertInto("thread_refs").values(part)),
      // auto-acknowledgements after the interactions they answer
      ...chunks(rows.outbox, 100).map((part) => trx.insertInto("outbox").values(part)),
    ];
  }

  /**
   * The referenced Message-IDs Mailroom knows (keys as threadKey makes them), each with its thread and
   * the earliest message that brought it.
   */
  knownRefs(trx: Kysely<Database>, messageIds: string[]): Reading<Map<string, KnownRef>> {
    const keys = [...new Set(messageIds.map(threadKey))];
    return {
      statements: chunks(keys, perStatement).map((part) =>
        trx.selectFrom("thread_refs").select(["internet_message_id", "thread_id", "message_id"]).where("internet_message_id", "in", part),
      ),
      result: (results) => {
        const known = new Map<string, KnownRef>();
        for (const r of rowsOf<{ internet_message_id: string; thread_id: string; message_id: string }>(results)) {
          const seen = known.get(r.internet_message_id);
          if (!seen || r.message_id < seen.messageId) known.set(r.internet_message_id, { threadId: r.thread_id, messageId: r.message_id });
        }
        return known;
      },
    };
  }

  /** The auto-acknowledgement of the enabled application that lists the mailbox, when on, with the outbound From address. */
  autoAckTemplate(trx: Kysely<Database>, mailboxId: string): Reading<AutoAckTemplate | null> {
    return {
      statements: [
        trx
          .selectFrom("applications as a")
          .innerJoin("application_mailboxes as am", "am.application_id", "a.id")
          .select(["a.auto_ack_subject", "a.auto_ack_text"])
          .where("am.mailbox_id", "=", mailboxId)
          .where("a.enabled", "=", 1)
          .where("a.auto_ack_enabled", "=", 1)
          .limit(1),
        trx.selectFrom("mailboxes").select("from_address").where("client_type", "=", "outbound").limit(1),
      ],
      result: ([application, outbound]) => {
        const app = application?.rows[0] as { auto_ack_subject: string | null; auto_ack_text: string | null } | undefined;
        const from = (outbound?.rows[0] as { from_address: string | null } | undefined)?.from_address;
        if (!app || !from) return null;
        return { subject: app.auto_ack_subject ?? "", text: app.auto_ack_text ?? "", fromAddress: from };
      },
    };
  }

  /** How many auto-acknowledgements went to each of these addresses since `since`. */
  recentAutoAcks(trx: Kysely<Database>, addresses: string[], since: string): Reading<Map<string, number>> {
    return {
      statements: chunks([...new Set(addresses)], perStatement).map((part) =>
        trx
          .selectFrom("outbox")
          .select((eb) => ["recipient", eb.fn.countAll<number>().as("n")])
          .where("kind", "=", sql.lit("autoAck"))
          .where("recipient", "in", part)
          .where("created_at", ">", since)
          .groupBy("recipient"),
      ),
      result: (results) => new Map(rowsOf<{ recipient: string; n: number }>(results).map((r) => [r.recipient, Number(r.n)])),
    };
  }

  /** The version of the routing rules: a copy of the rules read under the same version is current. */
  routingVersion(trx: Kysely<Database>): Reading<string> {
    return {
      statements: [trx.selectFrom("settings").select("value").where("name", "=", "routing.version")],
      result: (results) => rowsOf<{ value: string }>(results)[0]?.value ?? "0",
    };
  }

  /** The inbound routes and the Route to Multiple Destinations setting. */
  routingRules(trx: Kysely<Database>): Reading<{ routes: RouteRule[]; multipleDestinations: boolean }> {
    return {
      statements: [
        trx.selectFrom("routes").select(["id", "pattern", "queue_id", "priority"]),
        trx.selectFrom("settings").select("value").where("name", "=", "routing"),
      ],
      result: ([routes, setting]) => {
        const rows = (routes?.rows ?? []) as { id: string; pattern: string; queue_id: string; priority: number }[];
        const value = (setting?.rows[0] as { value: string } | undefined)?.value ?? "{}";
        return {
          routes: rows.map((r) => ({ id: r.id, pattern: r.pattern, queueId: r.queue_id, priority: Number(r.priority) })),
          multipleDestinations: (JSON.parse(value) as { routeToMultipleDestinations?: boolean }).routeToMultipleDestinations === true,
        };
      },
    };
  }

  /** Of these threads, those with an interaction an agent holds: the newest such interaction of each. */
  heldThreads(trx: Kysely<Database>, threadIds: string[]): Reading<Map<string, HeldThread>> {
    return {
      statements: chunks([...new Set(threadIds)], perStatement).map((part) =>
        trx
          .selectFrom("interactions")
          .select(["id", "thread_id", "agent_id", "queue_id"])
          .where("thread_id", "in", part)
          .where("state", "=", sql.lit("assigned"))
          .where("agent_id", "is not", null),
      ),
      result: (results) => {
        const held = new Map<string, HeldThread>();
        for (const r of rowsOf<{ id: string; thread_id: string; agent_id: string; queue_id: string | null }>(results)) {
          const seen = held.get(r.thread_id);
          if (!seen || r.id > seen.interactionId) held.set(r.thread_id, { agentId: r.agent_id, queueId: r.queue_id, interactionId: r.id });
        }
        return held;
      },
    };
  }

  /** Messages stored before content fingerprints existed, a page at a time. */
  async withoutContentHash(limit: number): Promise<{ id: string; rawBlobId: string; sizeBytes: number; wrapped: string | null }[]> {
    const rows = await this.db
      .selectFrom("messages")
      .select(["id", "raw_blob_id", "size_bytes", "wrapped"])
      .where("content_hash", "is", null)
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, rawBlobId: r.raw_blob_id, sizeBytes: r.size_bytes, wrapped: r.wrapped }));
  }

  async setContentHash(id: string, contentHash: string): Promise<void> {
    await this.db.updateTable("messages").set({ content_hash: contentHash }).where("id", "=", id).execute();
  }
}

/** The rows of every statement of a reading, together. */
function rowsOf<R>(results: QueryResult<unknown>[]): R[] {
  return results.flatMap((r) => r.rows as R[]);
}

/** The live records of these keys of the maildrop. */
function live(ref: MaildropRef, keys: string[]) {
  return (eb: ExpressionBuilder<Database, "source_keys">) =>
    eb.and([
      eb("mailbox_id", "=", ref.mailboxId),
      eb("maildrop", "=", ref.maildrop),
      eb("lookup_key", "in", keys.map(lookupKey)),
      eb("retired", "=", liveRow),
    ]);
}

function toRecord(row: {
  source_key: string;
  state: KeyRecord["state"];
  ack: KeyRecord["ack"];
  size: number;
  truncated: number;
  attempts: number;
  reason: string | null;
  content_hash: string | null;
}): KeyRecord {
  return {
    key: row.source_key,
    state: row.state,
    ack: row.ack,
    size: Number(row.size),
    truncated: Number(row.truncated) === 1,
    attempts: Number(row.attempts),
    reason: row.reason,
    contentHash: row.content_hash,
  };
}
