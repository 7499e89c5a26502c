/**
 * Mailroom's outbound benchmark: an outbox of replies drained by Mailroom's sender into an
 * accept-everything SMTP server, against a bare nodemailer pool sending the same messages in the same
 * run, with the API's latency meanwhile. Prints one JSON document on stdout (progress on stderr); a
 * missed target is a figure, not a failure. See bench/README.md.
 */
import { progress } from "./lib/clock.js";
import { startRun, writeReport } from "./lib/run.js";
import { parseOptions } from "./outbound/options.js";
import { outboundScenario, type OutboundResult } from "./outbound/scenario.js";
import { outboundTargets } from "./outbound/targets.js";

const options = parseOptions(process.argv.slice(2), process.env);
const run = startRun();
const { cleanup } = run;
let result: OutboundResult | null = null;
let error: string | null = null;
try {
  result = await outboundScenario(options, cleanup);
} catch (err) {
  error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  progress(`outbound: broke: ${error}`);
}
const leftovers = await cleanup.runAll();
if (leftovers.length) progress(`cleanup: ${leftovers.join("; ")}`);

const targets = result ? outboundTargets(result) : [];
writeReport("outbound", run, { options, targets, results: { ...(result ? { outbound: result } : {}), ...(error ? { errors: { outbound: error } } : {}) } });
process.exitCode = error ? 1 : 0;
