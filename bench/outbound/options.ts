import { parseArgs } from "node:util";
import { corpusNames, type CorpusName } from "../corpus.js";
import { optionReaders } from "../lib/options.js";

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

const { positive, namesFrom, helpAndQuick } = optionReaders(usage);

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
  const quick = helpAndQuick(values.help, values.quick, env);
  return {
    quick,
    corpora: namesFrom(values.corpus?.join(",") ?? env.BENCH_CORPUS ?? "all", corpusNames, "corpus"),
    count: positive(values.count ?? env.BENCH_MESSAGES, quick ? 500 : 3_000, "--count", true),
    runs: positive(values.runs ?? env.BENCH_RUNS, quick ? 1 : 3, "--runs", true),
    queueConcurrency: positive(values["queue-concurrency"], 8, "--queue-concurrency", true),
    mailroomNodeArgs: (values["mailroom-node-args"] ?? "").split(/\s+/).filter(Boolean),
    out: values.out,
  };
}
