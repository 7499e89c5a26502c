import { parseArgs } from "node:util";
import { commonFlags, commonValues, optionReaders } from "./options.js";

export interface NodesOptions {
  quick: boolean;
  /** mailboxes shared by the nodes (and run by the one node of the baseline) */
  mailboxes: number;
  /** failovers, each on a freshly restarted node; the targets use the median */
  runs: number;
  /** MAILROOM_LEASE_SECONDS of every node; undefined leaves it unset (Mailroom's default, 6 s) */
  leaseSeconds: number | undefined;
  /** how long a node rests, idle and after its mailboxes are ok, before its memory is read */
  settleSeconds: number;
  /** the API's latency on every node before each kill, the failover's baseline */
  apiBeforeSeconds: number;
  /** the longest a failover may take before the run counts as broken */
  failoverDeadlineSeconds: number;
  /** extra node flags for every Mailroom process, e.g. "--cpu-prof --cpu-prof-dir=.bench/prof" */
  mailroomNodeArgs: string[];
  /** where the JSON is also written; .bench/nodes-<time>.json by default */
  out: string | undefined;
}

const usage = `Usage: npm run bench:nodes -- [--quick] [--mailboxes N] [--runs N] [--lease-seconds N]
       [--settle-seconds N] [--api-before-seconds N] [--failover-deadline-seconds N]
       [--mailroom-node-args="--cpu-prof --cpu-prof-dir=.bench/prof"] [--out FILE]
Environment: BENCH_MAILBOXES, BENCH_RUNS, BENCH_QUICK=1 (flags win); BENCH_FROM_SOURCE=1 runs the sources through tsx.`;

const { positive, helpAndQuick } = optionReaders(usage);

export function parseNodesOptions(argv: string[], env: Record<string, string | undefined>): NodesOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...commonFlags,
      mailboxes: { type: "string" },
      runs: { type: "string" },
      "lease-seconds": { type: "string" },
      "settle-seconds": { type: "string" },
      "api-before-seconds": { type: "string" },
      "failover-deadline-seconds": { type: "string" },
    },
  });
  const quick = helpAndQuick(values.help, values.quick, env);
  const lease = values["lease-seconds"];
  return {
    quick,
    mailboxes: positive(values.mailboxes ?? env.BENCH_MAILBOXES, quick ? 100 : 1_000, "--mailboxes", true),
    runs: positive(values.runs ?? env.BENCH_RUNS, quick ? 1 : 3, "--runs", true),
    // Mailroom accepts 2..300 (src/config.ts) and says so itself when a node refuses to start
    leaseSeconds: lease === undefined ? undefined : positive(lease, 6, "--lease-seconds", true),
    settleSeconds: positive(values["settle-seconds"], quick ? 5 : 30, "--settle-seconds"),
    apiBeforeSeconds: positive(values["api-before-seconds"], quick ? 5 : 10, "--api-before-seconds"),
    failoverDeadlineSeconds: positive(values["failover-deadline-seconds"], 120, "--failover-deadline-seconds"),
    ...commonValues(values),
  };
}
