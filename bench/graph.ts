/**
 * Mailroom's Microsoft Graph benchmark, against the Microsoft emulator in this process: change
 * notification → interaction shown on the event stream, against the emulator's own notification delay
 * to a bare receiver measured in the same run; and a storm of 429s with Retry-After, for lost or doubled
 * messages and the time to recover. Prints one JSON document on stdout (progress on stderr); a missed
 * target is a figure, not a failure. See bench/README.md.
 */
import { graphProtocol } from "./graph/protocol.js";
import { latencyTargets, stormTargets } from "./graph/targets.js";
import { runMicrosoftBench } from "./microsoft/run-bench.js";

await runMicrosoftBench(graphProtocol, { catchUpDefault: 5, latencyTargets, stormTargets });
