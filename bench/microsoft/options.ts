import { parseArgs } from "node:util";
import { corpusNames, type CorpusName } from "../corpus.js";
import { commonFlags, commonValues, optionReaders, scenarioFlags, stringFlags } from "../lib/options.js";

export const scenarios = ["latency", "storm"] as const;
export type Scenario = (typeof scenarios)[number];

export interface MicrosoftBenchOptions {
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
  /** storm: the share of the protocol's requests throttled, and the wait they ask for (Retry-After, or EWS's BackOffMilliseconds / 1000) */
  stormRatio: number;
  retryAfterSeconds: number;
  /** storm: the protocol's periodic sync, e.g. MAILROOM_GRAPH_CATCHUP_SECONDS (the latency scenario puts it far away: only push drives it) */
  catchUpSeconds: number;
  /** storm: how long after the last delivery every message may still take to show */
  settleSeconds: number;
  /** extra node flags for every Mailroom process, e.g. "--cpu-prof --cpu-prof-dir=.bench/prof" */
  mailroomNodeArgs: string[];
  /** where the JSON is also written; .bench/<benchmark>-<time>.json by default */
  out: string | undefined;
}

/** What differs between the Microsoft benchmarks' command lines. */
export interface MicrosoftOptionSpec {
  /** the npm script, for the usage text */
  command: string;
  /** what --catchup-seconds sets, and its default */
  catchUpVariable: string;
  catchUpDefault: number;
}

function usageOf(spec: MicrosoftOptionSpec): string {
  return `Usage: npm run ${spec.command} -- [--quick] [--scenario latency,storm] [--corpus|--corpora small-text,mixed] [--messages N] [--interval-ms N]
       [--warmup N] [--rate N] [--before-seconds N] [--storm-seconds N] [--after-seconds N] [--storm-ratio 0.5] [--retry-after-seconds N]
       [--catchup-seconds N (storm: ${spec.catchUpVariable}, default ${spec.catchUpDefault})] [--settle-seconds N]
       [--mailroom-node-args="--cpu-prof --cpu-prof-dir=.bench/prof"] [--out FILE]
Environment: BENCH_SCENARIO, BENCH_CORPUS, BENCH_MESSAGES, BENCH_QUICK=1 (flags win).`;
}

export function parseOptions(argv: string[], env: Record<string, string | undefined>, spec: MicrosoftOptionSpec): MicrosoftBenchOptions {
  const usage = usageOf(spec);
  const { positive, wholeNumber, namesFrom, helpAndQuick } = optionReaders(usage);
  const { values } = parseArgs({
    args: argv,
    options: {
      ...commonFlags,
      ...scenarioFlags,
      // the same, by the name of the option it fills
      corpora: { type: "string", multiple: true },
      ...stringFlags(
        "messages",
        "interval-ms",
        "warmup",
        "rate",
        "before-seconds",
        "storm-seconds",
        "after-seconds",
        "storm-ratio",
        "retry-after-seconds",
        "catchup-seconds",
        "settle-seconds",
      ),
    },
  });
  const quick = helpAndQuick(values.help, values.quick, env);
  const stormRatio = positive(values["storm-ratio"], 0.5, "--storm-ratio");
  if (stormRatio > 1) throw new Error(`--storm-ratio must be at most 1\n${usage}`);
  return {
    scenarios: namesFrom(values.scenario?.join(",") ?? env.BENCH_SCENARIO ?? "all", scenarios, "scenario"),
    quick,
    // small-text first: the everyday case
    corpora: namesFrom([...(values.corpus ?? []), ...(values.corpora ?? [])].join(",") || (env.BENCH_CORPUS ?? "all"), corpusNames, "corpus").sort((a, b) => (a === "small-text" ? -1 : b === "small-text" ? 1 : 0)),
    messages: positive(values.messages ?? env.BENCH_MESSAGES, quick ? 50 : 500, "--messages", true),
    intervalMs: positive(values["interval-ms"], 50, "--interval-ms"),
    warmup: wholeNumber(values.warmup, 5, "--warmup"),
    rate: positive(values.rate, 20, "--rate"),
    beforeSeconds: positive(values["before-seconds"], quick ? 5 : 10, "--before-seconds"),
    stormSeconds: positive(values["storm-seconds"], quick ? 5 : 10, "--storm-seconds"),
    afterSeconds: positive(values["after-seconds"], quick ? 8 : 10, "--after-seconds"),
    stormRatio,
    retryAfterSeconds: wholeNumber(values["retry-after-seconds"], 1, "--retry-after-seconds"),
    catchUpSeconds: positive(values["catchup-seconds"], spec.catchUpDefault, "--catchup-seconds"),
    settleSeconds: positive(values["settle-seconds"], 120, "--settle-seconds"),
    ...commonValues(values),
  };
}

/** Runs a scenario on each chosen corpus in turn, until interrupted: its results by corpus. */
export async function perCorpus<R>(opts: MicrosoftBenchOptions, interrupted: () => boolean, each: (corpus: CorpusName) => Promise<R>): Promise<Partial<Record<CorpusName, R>>> {
  const results: Partial<Record<CorpusName, R>> = {};
  for (const corpus of opts.corpora) {
    if (interrupted()) break;
    results[corpus] = await each(corpus);
  }
  return results;
}
