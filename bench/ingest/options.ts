import { parseArgs } from "node:util";

export const scenarios = ["backlog", "latency", "scale"] as const;
export type Scenario = (typeof scenarios)[number];

export interface IngestOptions {
  scenarios: Scenario[];
  quick: boolean;
  /** backlog: messages per run */
  count: number;
  /** backlog: runs, each on freshly delivered copies */
  runs: number;
  /** backlog: the MAILROOM_PARSE_WORKERS values to measure */
  workers: number[];
  seed: number;
  /** latency: single messages, 1.5-2 s apart */
  singles: number;
  /** latency: the stream's rate and length */
  streamRate: number;
  streamSeconds: number;
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

const usage = `Usage: npm run bench:ingest -- [--quick] [--scenario backlog,latency,scale] [--count N] [--runs N]
       [--workers 1,2] [--singles N] [--stream-seconds N] [--mailboxes N] [--scale-samples N] [--settle-seconds N]
       [--mailroom-node-args="--cpu-prof --cpu-prof-dir=.bench/prof"] [--out FILE]
Environment: BENCH_SCENARIO, BENCH_MESSAGES, BENCH_RUNS, BENCH_WORKERS, BENCH_QUICK=1 (flags win).`;

function numberList(text: string, what: string): number[] {
  const list = text.split(",").map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`${what} must be whole numbers separated by commas\n${usage}`);
  return list;
}

function positive(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number\n${usage}`);
  return n;
}

export function parseOptions(argv: string[], env: Record<string, string | undefined>): IngestOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      scenario: { type: "string", multiple: true },
      count: { type: "string" },
      runs: { type: "string" },
      workers: { type: "string" },
      seed: { type: "string" },
      singles: { type: "string" },
      "stream-seconds": { type: "string" },
      mailboxes: { type: "string" },
      "scale-samples": { type: "string" },
      "settle-seconds": { type: "string" },
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
  const chosen = (values.scenario?.join(",") ?? env.BENCH_SCENARIO ?? "all")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const picked = chosen.includes("all") ? [...scenarios] : chosen;
  for (const s of picked) if (!(scenarios as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}\n${usage}`);
  return {
    scenarios: scenarios.filter((s) => picked.includes(s)),
    quick,
    count: positive(values.count ?? env.BENCH_MESSAGES, quick ? 1_000 : 10_000, "--count"),
    runs: positive(values.runs ?? env.BENCH_RUNS, 2, "--runs"),
    workers: numberList(values.workers ?? env.BENCH_WORKERS ?? (quick ? "1" : "1,2"), "--workers"),
    seed: positive(values.seed, 1, "--seed"),
    singles: positive(values.singles, quick ? 30 : 200, "--singles"),
    streamRate: 20,
    streamSeconds: positive(values["stream-seconds"], quick ? 10 : 60, "--stream-seconds"),
    mailboxes: positive(values.mailboxes, quick ? 100 : 1_000, "--mailboxes"),
    scaleSamples: positive(values["scale-samples"], quick ? 10 : 50, "--scale-samples"),
    settleSeconds: positive(values["settle-seconds"], quick ? 5 : 30, "--settle-seconds"),
    mailroomNodeArgs: (values["mailroom-node-args"] ?? "").split(/\s+/).filter(Boolean),
    out: values.out,
  };
}
