import { parseArgs } from "node:util";
import { corpusNames, type CorpusName } from "../corpus.js";
import { commonFlags, commonValues, optionReaders, scenarioFlags } from "../lib/options.js";

export const scenarios = ["backlog", "latency", "fairness", "scale"] as const;
export type Scenario = (typeof scenarios)[number];

export interface IngestOptions {
  scenarios: Scenario[];
  quick: boolean;
  /** backlog: the corpora measured, each at its own seed */
  corpora: CorpusName[];
  /** backlog: messages per run */
  count: number;
  /** backlog: runs per corpus, each on freshly delivered copies; the targets use the median */
  runs: number;
  /** backlog: the MAILROOM_PARSE_WORKERS values to measure */
  workers: number[];
  /** backlog: inbound routes made before a second drain on each workers value, to measure what routing costs; 0 for none */
  routes: number;
  /** latency: single messages, 1.5-2 s apart */
  singles: number;
  /** latency: the stream's rate and length */
  streamRate: number;
  streamSeconds: number;
  /** fairness: mailboxes with a backlog, messages in each, and the caps on the quiet mailbox's samples */
  fairnessMailboxes: number;
  fairnessBacklog: number;
  fairnessSamples: number;
  fairnessSeconds: number;
  /** scale: mailboxes on one node, and how many of them get a latency probe */
  mailboxes: number;
  scaleSamples: number;
  /** how long a process rests after connecting before its memory is read */
  settleSeconds: number;
  /** extra node flags for every Mailroom process, e.g. "--cpu-prof --cpu-prof-dir=.bench/prof" */
  mailroomNodeArgs: string[];
  /** where the JSON is also written; .bench/ingest-<time>.json by default */
  out: string | undefined;
}

const usage = `Usage: npm run bench:ingest -- [--quick] [--scenario backlog,latency,fairness,scale] [--corpus mixed,small-text]
       [--count N] [--runs N] [--workers 1,2] [--routes N] [--singles N] [--stream-seconds N]
       [--fairness-mailboxes N] [--fairness-backlog N] [--fairness-samples N] [--fairness-seconds N]
       [--mailboxes N] [--scale-samples N] [--settle-seconds N]
       [--mailroom-node-args="--cpu-prof --cpu-prof-dir=.bench/prof"] [--out FILE]
Environment: BENCH_SCENARIO, BENCH_CORPUS, BENCH_MESSAGES, BENCH_RUNS, BENCH_WORKERS, BENCH_ROUTES, BENCH_QUICK=1 (flags win).`;

function numberList(text: string, what: string): number[] {
  const list = text.split(",").map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`${what} must be whole numbers separated by commas\n${usage}`);
  return list;
}

const { positive, wholeNumber, namesFrom, helpAndQuick } = optionReaders(usage);

export function parseOptions(argv: string[], env: Record<string, string | undefined>): IngestOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...commonFlags,
      ...scenarioFlags,
      count: { type: "string" },
      runs: { type: "string" },
      workers: { type: "string" },
      routes: { type: "string" },
      singles: { type: "string" },
      "stream-seconds": { type: "string" },
      "fairness-mailboxes": { type: "string" },
      "fairness-backlog": { type: "string" },
      "fairness-samples": { type: "string" },
      "fairness-seconds": { type: "string" },
      mailboxes: { type: "string" },
      "scale-samples": { type: "string" },
      "settle-seconds": { type: "string" },
    },
  });
  const quick = helpAndQuick(values.help, values.quick, env);
  return {
    scenarios: namesFrom(values.scenario?.join(",") ?? env.BENCH_SCENARIO ?? "all", scenarios, "scenario"),
    quick,
    corpora: namesFrom(values.corpus?.join(",") ?? env.BENCH_CORPUS ?? "all", corpusNames, "corpus"),
    count: positive(values.count ?? env.BENCH_MESSAGES, quick ? 1_000 : 10_000, "--count"),
    runs: positive(values.runs ?? env.BENCH_RUNS, 3, "--runs"),
    workers: numberList(values.workers ?? env.BENCH_WORKERS ?? (quick ? "1" : "1,2"), "--workers"),
    routes: wholeNumber(values.routes ?? env.BENCH_ROUTES, 0, "--routes"),
    singles: positive(values.singles, quick ? 30 : 200, "--singles"),
    streamRate: 20,
    streamSeconds: positive(values["stream-seconds"], quick ? 10 : 60, "--stream-seconds"),
    fairnessMailboxes: positive(values["fairness-mailboxes"], quick ? 10 : 20, "--fairness-mailboxes"),
    fairnessBacklog: positive(values["fairness-backlog"], quick ? 1_500 : 2_000, "--fairness-backlog"),
    fairnessSamples: positive(values["fairness-samples"], quick ? 30 : 60, "--fairness-samples"),
    fairnessSeconds: positive(values["fairness-seconds"], quick ? 90 : 240, "--fairness-seconds"),
    mailboxes: positive(values.mailboxes, quick ? 100 : 1_000, "--mailboxes"),
    scaleSamples: positive(values["scale-samples"], quick ? 10 : 50, "--scale-samples"),
    settleSeconds: positive(values["settle-seconds"], quick ? 5 : 30, "--settle-seconds"),
    ...commonValues(values),
  };
}
