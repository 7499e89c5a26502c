/**
 * Parser throughput on the benchmark corpus: the two maintained MIME parsers bare, and Mailroom's
 * parseMail (parse + sanitize + classify + dedup) in-process and on a 2-worker pool.
 * Run: npx tsx bench/parsers.ts [count] [seed] [mixed|small-text]. Prints JSON; run it more than once and
 * report each run.
 * The pool figure only means something next to `cpus` and the machine's load: workers add throughput
 * only where cores are idle.
 */
import os from "node:os";
import { simpleParser } from "mailparser";
import PostalMime from "postal-mime";
import { parseMail } from "../src/ingest/parse-mail.js";
import { createParser } from "../src/ingest/parser-pool.js";
import type { IngestContext } from "../src/ingest/types.js";
import { corpusNames, generateCorpus, type CorpusName } from "./corpus.js";

const count = Number(process.argv[2] ?? 2000);
const seed = Number(process.argv[3] ?? 42);
const name = (process.argv[4] ?? "mixed") as CorpusName;
if (!corpusNames.includes(name)) throw new Error(`unknown corpus ${name}: use ${corpusNames.join(" or ")}`);
const smallLimit = 64 * 1024;
const ctx: IngestContext = { maxSizeBytes: 20 * 1024 * 1024, ownAddresses: new Set(["support@company.example"]) };

type Parse = (raw: Buffer) => Promise<unknown>;

interface Rate {
  messagesPerSecond: number;
  smallPerSecond: number;
  largePerSecond: number;
}

const round = (n: number) => Math.round(n);

async function measure(messages: Buffer[], parse: Parse): Promise<Rate> {
  // a warm-up so the JIT has seen the code and the heap has grown before the clock runs
  for (const raw of messages.slice(0, 200)) await parse(raw);
  let smallMs = 0;
  let largeMs = 0;
  let small = 0;
  for (const raw of messages) {
    const start = performance.now();
    await parse(raw);
    const ms = performance.now() - start;
    if (raw.length < smallLimit) {
      smallMs += ms;
      small++;
    } else {
      largeMs += ms;
    }
  }
  const large = messages.length - small;
  return {
    messagesPerSecond: round(messages.length / ((smallMs + largeMs) / 1000)),
    smallPerSecond: round(small / (smallMs / 1000)),
    largePerSecond: round(large / (largeMs / 1000)),
  };
}

/** Throughput with parses in flight on every worker at once, the way a busy runner would use the pool. */
async function measurePool(messages: Buffer[], workers: number): Promise<{ messagesPerSecond: number }> {
  const parser = createParser({ workers });
  try {
    await Promise.all(messages.slice(0, 200).map((raw) => parser.parse({ raw, size: raw.length, truncated: false }, ctx)));
    const start = performance.now();
    let next = 0;
    const lane = async () => {
      while (next < messages.length) {
        const raw = messages[next++]!;
        await parser.parse({ raw, size: raw.length, truncated: false }, ctx);
      }
    };
    await Promise.all(Array.from({ length: workers * 2 }, lane));
    return { messagesPerSecond: round(messages.length / ((performance.now() - start) / 1000)) };
  } finally {
    await parser.close();
  }
}

const messages = [...generateCorpus({ count, seed, name })].map((m) => m.raw);
const sizes = messages.map((m) => m.length).sort((a, b) => a - b);

const result = {
  node: process.version,
  cpus: os.cpus().length,
  corpus: {
    name,
    count,
    seed,
    medianBytes: sizes[Math.floor(count / 2)],
    meanBytes: round(sizes.reduce((a, b) => a + b, 0) / count),
    under64KB: sizes.filter((s) => s < smallLimit).length,
  },
  mailparser: await measure(messages, (raw) => simpleParser(raw)),
  postalMime: await measure(messages, (raw) => PostalMime.parse(raw)),
  parseMail: await measure(messages, (raw) => parseMail({ raw, size: raw.length, truncated: false }, ctx)),
  parseMailPool2Workers: await measurePool(messages, 2),
};

process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
