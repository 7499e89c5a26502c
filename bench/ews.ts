/**
 * Mailroom's Exchange Web Services benchmark, against the Microsoft emulator in this process (EWS at
 * /EWS/Exchange.asmx): new mail → interaction shown on the event stream while the mailbox waits on
 * streaming notifications, against a bare streaming client's NewMailEvent measured in the same run; and
 * a storm of ErrorServerBusy with a back-off, for lost or doubled messages and the time to catch up.
 * Prints one JSON document on stdout (progress on stderr); a missed target is a figure, not a failure.
 * See bench/README.md.
 */
import { ewsProtocol } from "./ews/protocol.js";
import { latencyTargets, stormTargets } from "./ews/targets.js";
import { runMicrosoftBench } from "./microsoft/run-bench.js";

// the storm's resync stays Mailroom's default (300 s): streaming notifications, not a resync, must bring every message in
await runMicrosoftBench(ewsProtocol, { catchUpDefault: 300, latencyTargets, stormTargets });
