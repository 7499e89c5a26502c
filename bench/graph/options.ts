import { parseArgs } from "node:util";
import { corpusNames, type CorpusName } from "../corpus.js";
import { optionReaders } from "../lib/options.js";

export const scenarios = ["latency", "storm"] as const;
export type Scenario = (typeof scenarios)[number];

export interface GraphBenchOptions {
  scenarios: Scenario[];
  quick: boolean;
  /** the corpora whose messages are delivered, each at its own seed */
  corpora: CorpusName[];
  /** latency: measured messages per corpus, for the bare receiver and for Mailroom each */
  messages: number;
  /** latency: one message every this many ms */
  intervalMs: number;
  /** messages delivered (and left out of the figures) before each latency measurement */
  warmup: number;
  /** storm: messages per second, steadily */
  rate: number;
  /** storm: seconds before the storm, of the storm, and after it */
  beforeSeconds: number;
  stormSeconds: number;
  afterSeconds: number;
  /** storm: the share of Graph requests answered 429, and their Retry-After */
  stormRatio: number;
  retryAfterSeconds: number;
  /** storm: MAILROOM_GRAPH_CATCHUP_SECONDS (the latency scenario uses 300: only notifications drive it) */
  catchUpSeconds: number;
  /** storm: how long after the last delivery every message may still take to show */
  settleSeconds: number;
  /** extra node flags for every Mailroom process, e.g. "--cpu-prof --cpu-prof-dir=.bench/prof" */
  mailroomNodeArgs: string[];
  /** where the JSON is also written; .bench/graph-<time>.json by default */
  out: string | undefined;
}

const usage = `Usage: npm run bench:graph -- [--quick] [--scenario latency,storm] [--corpus small-text,mixed] [--messages N] [--interval-ms N]
       [--warmup N] [--rate N] [--before-seconds N] [--storm-seconds N] [--after-seconds N] [--storm-ratio 0.5] [--retry-after-seconds N]
       [--catchup-seconds N] [--settle-seconds N] [--mailroom-node-args="--cpu-prof --cpu-prof-dir=.bench/prof"] [--out FILE]
Environment: BENCH_SCENARIO, BENCH_CORPUS, BENCH_MESSAGES, BENCH_QUICK=1 (flags win).`;

const { positive, wholeNumber, namesFrom, helpAndQuick } = optionReaders(usage);

export function parseOptions(argv: string[], env: Record<string, string | undefined>): GraphBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      scenario: { type: "string", multiple: true },
      corpus: { type: "string", multiple: true },
      messages: { type: "string" },
      "interval-ms": { type: "string" },
      warmup: { type: "string" },
      rate: { type: "string" },
      "before-seconds": { type: "string" },
      "storm-seconds": { type: "string" },
      "after-seconds": { type: "string" },
      "storm-ratio": { type: "string" },
      "retry-after-seconds": { type: "string" },
      "catchup-seconds": { type: "string" },
      "settle-seconds": { type: "string" },
      "mailroom-node-args": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  const quick = helpAndQuick(values.help, values.quick, env);
  const stormRatio = positive(values["storm-ratio"], 0.5, "--storm-ratio");
  if (stormRatio > 1) throw new Error(`--storm-ratio must be at most 1\n${usage}`);
  return {
    scenarios: namesFrom(values.scenario?.join(",") ?? env.BENCH_SCENARIO ?? "all", scenarios, "scenario"),
    quick,
    // small-text first: the everyday case
    corpora: namesFrom(values.corpus?.join(",") ?? env.BENCH_CORPUS ?? "all", corpusNames, "corpus").sort((a, b) => (a === "small-text" ? -1 : b === "small-text" ? 1 : 0)),
    messages: positive(values.messages ?? env.BENCH_MESSAGES, quick ? 50 : 500, "--messages", true),
    intervalMs: positive(values["interval-ms"], 50, "--interval-ms"),
    warmup: wholeNumber(values.warmup, 5, "--warmup"),
    rate: positive(values.rate, 20, "--rate"),
    beforeSeconds: positive(values["before-seconds"], quick ? 5 : 10, "--before-seconds"),
    stormSeconds: positive(values["storm-seconds"], quick ? 5 : 10, "--storm-seconds"),
    afterSeconds: positive(values["after-seconds"], quick ? 8 : 10, "--after-seconds"),
    stormRatio,
    retryAfterSeconds: wholeNumber(values["retry-after-seconds"], 1, "--retry-after-seconds"),
    catchUpSeconds: positive(values["catchup-seconds"], 5, "--catchup-seconds"),
    settleSeconds: positive(values["settle-seconds"], 120, "--settle-seconds"),
    mailroomNodeArgs: (values["mailroom-node-args"] ?? "").split(/\s+/).filter(Boolean),
    out: values.out,
  };
}
