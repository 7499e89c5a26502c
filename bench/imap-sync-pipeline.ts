/**
 * Does fetching batch k+1 while batch k is committed pay off? Syncs the same folder with and
 * without the prefetch, with commits that cost 0, 20 and 50 ms per batch, against a private
 * Dovecot on 127.0.0.1. Prints JSON; run with `npm run bench:imap-pipeline`.
 */
import { ImapSource } from "../src/connectors/imap/imap-source.js";
import type { BatchCommit, CommitOutcome } from "../src/ingest/sync-store.js";
import { startDovecot } from "../test/support/dovecot.js";
import { mailboxSettings, testMessage } from "../test/support/mail-fixtures.js";
import { MemorySyncStore, syncOnce } from "../test/support/memory-sync-store.js";

const messages = Number(process.env.BENCH_MESSAGES ?? 2000);
const runs = Number(process.env.BENCH_RUNS ?? 2);

/** deterministic sizes: mostly ~8 KB, every tenth ~120 KB */
function body(i: number): string {
  const size = i % 10 === 0 ? 120_000 : 6_000 + ((i * 7919) % 5_000);
  const line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n";
  return line.repeat(Math.ceil(size / line.length));
}

class SlowCommitStore extends MemorySyncStore {
  constructor(private readonly commitMs: number) {
    super();
  }
  override async commit(batch: BatchCommit): Promise<CommitOutcome> {
    if (this.commitMs > 0) await new Promise((r) => setTimeout(r, this.commitMs));
    return super.commit(batch);
  }
}

async function main(): Promise<void> {
  const user = "bench@acme.test";
  const dovecot = await startDovecot({ users: [{ name: user, password: "pw" }] });
  try {
    const loadStart = Date.now();
    for (let i = 0; i < messages; i++) await dovecot.append(user, testMessage(`bench ${i}`, body(i)));
    process.stderr.write(`appended ${messages} messages in ${Date.now() - loadStart} ms\n`);
    const settings = mailboxSettings(dovecot, user, "pw");
    // one untimed pass, so Dovecot's index and the page cache are warm for both variants
    const warm = new ImapSource(settings);
    await syncOnce(warm, new MemorySyncStore());
    await warm.close();
    const results: { commitMs: number; prefetch: number; run: number; ms: number; msgPerSec: number; batches: number }[] = [];
    const depths = [0, 1, 2];
    for (const commitMs of [0, 20, 50]) {
      for (let run = 1; run <= runs; run++) {
        for (const prefetch of depths) {
          const source = new ImapSource(settings);
          const store = new SlowCommitStore(commitMs);
          const started = performance.now();
          const { report } = await syncOnce(source, store, { limits: { prefetch } });
          const ms = performance.now() - started;
          await source.close();
          if (report.fetched !== messages) throw new Error(`fetched ${report.fetched} of ${messages}`);
          results.push({ commitMs, prefetch, run, ms: Math.round(ms), msgPerSec: Math.round((messages / ms) * 1000), batches: store.commits.length });
        }
      }
    }
    const summary = [0, 20, 50].map((commitMs) => {
      const of = (p: number) => results.filter((r) => r.commitMs === commitMs && r.prefetch === p).map((r) => r.ms);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      return { commitMs, msByPrefetch: Object.fromEntries(depths.map((p) => [p, of(p)])), speedupOverSerial: Object.fromEntries(depths.map((p) => [p, Number((mean(of(0)) / mean(of(p))).toFixed(2))])) };
    });
    process.stdout.write(JSON.stringify({ messages, results, summary }, null, 2) + "\n");
  } finally {
    await dovecot.stop();
  }
}

await main();
