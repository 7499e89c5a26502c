import { parseArgs } from "node:util";
import { corpusNames, type CorpusName } from "../corpus.js";

export interface OutboundOptions {
  quick: boolean;
  /** the corpora whose customer mail is answered, each at its own seed */
  corpora: CorpusName[];
  /** replies per run */
  count: number;
  /** runs per corpus; the targets use the median */
  runs: number;
  /** replies POSTed at once while the outbox is filled (not timed) */
  queueConcurrency: number;
  /** extra node flags for every Mailroom process, e.g. "--cpu-prof --cpu-prof-dir=.bench/prof" */
  mailroomNodeArgs: string[];
  /** where the JSON is also written; .bench/outbound-<time>.json by default */
  out: string | undefined;
}

const usage = `Usage: npm run bench:outbound -- [--quick] [--corpus small-text,mixed] [--count N] [--runs N] [--queue-concurrency N]
       [--mailroom-node-args="--cpu-prof --cpu-prof-dir=.bench/prof"] [--out FILE]
Environment: BENCH_CORPUS, BENCH_MESSAGES, BENCH_RUNS, BENCH_QUICK=1 (flags win).`;

function positive(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what} must be a positive whole number\n${usage}`);
  return n;
}

function corporaFrom(text: string): CorpusName[] {
  const chosen = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (chosen.includes("all")) return [...corpusNames];
  for (const name of chosen) if (!(corpusNames as readonly string[]).includes(name)) throw new Error(`unknown corpus ${name}: use ${corpusNames.join(", ")}\n${usage}`);
  if (chosen.length === 0) throw new Error(`name at least one corpus\n${usage}`);
  return corpusNames.filter((name) => chosen.includes(name));
}

export function parseOptions(argv: string[], env: Record<string, string | undefined>): OutboundOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      corpus: { type: "string", multiple: true },
      count: { type: "string" },
      runs: { type: "string" },
      "queue-concurrency": { type: "string" },
      "mailroom-node-args": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stderr.write(`${usage}\n`);
    process.exit(0);
  }
  const quick = values.quick ?? ["1", "true", "yes"].includes(env.BENCH_QUICK ?? "");
  return {
    quick,
    corpora: corporaFrom(values.corpus?.join(",") ?? env.BENCH_CORPUS ?? "all"),
    count: positive(values.count ?? env.BENCH_MESSAGES, quick ? 500 : 3_000, "--count"),
    runs: positive(values.runs ?? env.BENCH_RUNS, quick ? 1 : 3, "--runs"),
    queueConcurrency: positive(values["queue-concurrency"], 8, "--queue-concurrency"),
    mailroomNodeArgs: (values["mailroom-node-args"] ?? "").split(/\s+/).filter(Boolean),
    out: values.out,
  };
}
