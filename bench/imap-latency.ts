/**
 * New-mail latency: from APPEND to the commit of the message by an ImapSource driven like the
 * runner drives it (sync, waitForChange, sync, …), against a bare imapflow client in IDLE on a
 * twin inbox that gets the same APPEND at the same moment. Dovecot holds IDLE notifications back
 * ~0.5 s by design; what Mailroom adds is the difference. Run with `npm run bench:imap-latency`.
 */
import { ImapSource } from "../src/connectors/imap/imap-source.js";
import type { BatchCommit, CommitOutcome } from "../src/ingest/sync-store.js";
import { startDovecot } from "../test/support/dovecot.js";
import { mailboxSettings, testMessage } from "../test/support/mail-fixtures.js";
import { MemorySyncStore, syncOnce } from "../test/support/memory-sync-store.js";
import { bareClient } from "./lib/bare-imap.js";
import { percentile } from "./lib/stats.js";

const count = Number(process.env.BENCH_MESSAGES ?? 20);

const client = (port: number, user: string) => bareClient(port, user, "pw");

class TimedStore extends MemorySyncStore {
  readonly committedAt = new Map<string, number>();
  override async commit(batch: BatchCommit): Promise<CommitOutcome> {
    const outcome = await super.commit(batch);
    const now = performance.now();
    for (const m of batch.messages) this.committedAt.set(/^Subject: (.*)$/m.exec(m.raw.toString())?.[1] ?? "", now);
    return outcome;
  }
}

async function main(): Promise<void> {
  const dovecot = await startDovecot({ users: ["mailroom", "twin", "loader"].map((u) => ({ name: `${u}@acme.test`, password: "pw" })) });
  const loaderA = client(dovecot.imapPort, "mailroom@acme.test");
  const loaderB = client(dovecot.imapPort, "twin@acme.test");
  const bare = client(dovecot.imapPort, "twin@acme.test");
  const source = new ImapSource(mailboxSettings(dovecot, "mailroom@acme.test", "pw"));
  const store = new TimedStore();
  const stop = new AbortController();
  try {
    await Promise.all([loaderA.connect(), loaderB.connect(), bare.connect()]);
    await bare.mailboxOpen("INBOX");
    const bareSeen: number[] = [];
    bare.on("exists", () => bareSeen.push(performance.now()));
    void bare.idle();
    const runner = (async () => {
      for (let firstOnConnection = true; !stop.signal.aborted; firstOnConnection = false) {
        await syncOnce(source, store, { firstOnConnection, signal: stop.signal });
        await source.waitForChange(60_000, stop.signal);
      }
    })();
    // the first sync of the empty inbox records its cursor
    while (store.cursor === null) await new Promise((r) => setTimeout(r, 5));
    const rows: { bareMs: number; mailroomMs: number; addedMs: number }[] = [];
    for (let i = 0; i < count; i++) {
      // Dovecot batches changes in a 500 ms window: space the messages 1.5-2 s apart at random
      await new Promise((r) => setTimeout(r, 1_500 + Math.random() * 500));
      const subject = `latency ${i}`;
      const raw = testMessage(subject);
      const seenBefore = bareSeen.length;
      const t0 = performance.now();
      await Promise.all([loaderA.append("INBOX", raw), loaderB.append("INBOX", raw)]);
      const deadline = Date.now() + 10_000;
      while ((!store.committedAt.has(subject) || bareSeen.length === seenBefore) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      const bareMs = bareSeen[seenBefore]! - t0;
      const mailroomMs = store.committedAt.get(subject)! - t0;
      rows.push({ bareMs: Math.round(bareMs), mailroomMs: Math.round(mailroomMs), addedMs: Math.round(mailroomMs - bareMs) });
    }
    stop.abort();
    await runner.catch(() => undefined);
    const col = (k: "bareMs" | "mailroomMs" | "addedMs") => rows.map((r) => r[k]);
    const stats = (xs: number[]) => ({ p50: percentile(xs, 50), p90: percentile(xs, 90), max: Math.max(...xs) });
    process.stdout.write(
      JSON.stringify({ messages: count, bareExists: stats(col("bareMs")), mailroomCommitted: stats(col("mailroomMs")), added: stats(col("addedMs")), rows }, null, 2) + "\n",
    );
  } finally {
    stop.abort();
    await source.close();
    for (const c of [loaderA, loaderB, bare]) c.close();
    await dovecot.stop();
  }
}

await main();
