/**
 * The bare EWS streaming client of bench:ews, in a Node process of its own (as Mailroom is): no
 * Mailroom code and no XML library, only node:https, SOAP requests written out by hand and Basic
 * sign-in. Speaks JSON lines (bench/lib/notifying-child.ts): `{ready: true}` first; for each
 * `{id, watch: {url, caFile, user, password}}` on stdin it subscribes to the user's Inbox (Subscribe,
 * StreamingSubscriptionRequest, NewMailEvent only), holds one GetStreamingEvents request open (again
 * whenever the server closes it) and answers `{reply: id}` once that answer has begun; then, for every
 * envelope of the stream that names new mail, `{at, ids}`: when the chunk that completed the envelope
 * was read (CLOCK_MONOTONIC, shared with the benchmark) and the ItemIds of its NewMailEvents. Ends when
 * its stdin closes.
 */
import fs from "node:fs";
import type { IncomingMessage } from "node:http";
import https from "node:https";
import readline from "node:readline";
import { nowMs } from "../lib/clock.js";

interface Watch {
  url: string;
  caFile: string;
  user: string;
  password: string;
}

const agent = new https.Agent({ keepAlive: true });
/** the CA files' PEM, read once: no file is read between a delivery and its event */
const cas = new Map<string, string>();
let stopping = false;

function write(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** A request document: the types (t:) and messages (m:) namespaces, and the schema version every operation here exists in. */
function soap(operation: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" ' +
    'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/></soap:Header>' +
    `<soap:Body>${operation}</soap:Body></soap:Envelope>`
  );
}

const subscribeInbox =
  '<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds>' +
  "<t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>";

const getEvents = (subscriptionId: string) =>
  `<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${subscriptionId}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>30</m:ConnectionTimeout></m:GetStreamingEvents>`;

/** The few entities an attribute or element text of these answers can hold. */
function unescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (_all, name: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" })[name] ?? "");
}

/** POSTs one request; the answer is handed over as it comes (the stream) rather than read here. */
function post(watch: Watch, body: string): Promise<IncomingMessage> {
  const payload = Buffer.from(soap(body), "utf8");
  return new Promise((resolve, reject) => {
    const req = https.request(watch.url, {
      method: "POST",
      agent,
      ca: cas.get(watch.caFile) ?? cas.set(watch.caFile, fs.readFileSync(watch.caFile, "utf8")).get(watch.caFile),
      headers: {
        "content-type": "text/xml; charset=utf-8",
        "content-length": String(payload.length),
        authorization: `Basic ${Buffer.from(`${watch.user}:${watch.password}`, "utf8").toString("base64")}`,
      },
    });
    req.once("response", resolve);
    req.once("error", reject);
    req.end(payload);
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  res.setEncoding("utf8");
  let text = "";
  for await (const chunk of res) text += chunk as string;
  return text;
}

/** The NewMailEvents' ItemIds of one envelope of the stream. */
function newMailIds(envelope: string): string[] {
  const ids: string[] = [];
  for (const event of envelope.matchAll(/<(?:\w+:)?NewMailEvent>([\s\S]*?)<\/(?:\w+:)?NewMailEvent>/g)) {
    const id = /<(?:\w+:)?ItemId\s[^>]*?\bId="([^"]*)"/.exec(event[1]!)?.[1];
    if (id !== undefined) ids.push(unescape(id));
  }
  return ids;
}

/** One GetStreamingEvents answer, read envelope by envelope; resolves once the answer has begun, opens the next when it ends. */
async function stream(watch: Watch, subscriptionId: string): Promise<void> {
  const res = await post(watch, getEvents(subscriptionId));
  if (res.statusCode !== 200) throw new Error(`GetStreamingEvents for ${watch.user}: HTTP ${res.statusCode} ${(await readAll(res)).slice(0, 300)}`);
  res.setEncoding("utf8");
  let buffered = "";
  res.on("data", (chunk: string) => {
    const at = nowMs();
    buffered += chunk;
    const closing = /<\/(?:\w+:)?Envelope>/g;
    let start = 0;
    for (let end = closing.exec(buffered); end !== null; end = closing.exec(buffered)) {
      const envelope = buffered.slice(start, end.index);
      start = end.index + end[0].length;
      if (envelope.includes('ResponseClass="Error"')) process.stderr.write(`bare EWS client, ${watch.user}: the stream reported an error: ${envelope.slice(0, 400)}\n`);
      const ids = newMailIds(envelope);
      if (ids.length > 0) write({ at, ids });
    }
    buffered = buffered.slice(start);
  });
  res.once("end", () => {
    // the connection's time is up (ConnectionStatus Closed): the subscription lives on, a new request picks it up
    if (!stopping) stream(watch, subscriptionId).catch((err: unknown) => process.stderr.write(`bare EWS client: ${String(err)}\n`));
  });
}

async function subscribe(watch: Watch): Promise<void> {
  const res = await post(watch, subscribeInbox);
  const text = await readAll(res);
  const id = /<(?:\w+:)?SubscriptionId>([^<]+)</.exec(text)?.[1];
  if (res.statusCode !== 200 || !text.includes('ResponseClass="Success"') || id === undefined) {
    throw new Error(`Subscribe for ${watch.user}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
  }
  await stream(watch, unescape(id));
}

const commands = readline.createInterface({ input: process.stdin });
commands.on("line", (line) => {
  const command = JSON.parse(line) as { id: number; watch?: Watch };
  if (!command.watch) {
    write({ reply: command.id, error: "unknown command" });
    return;
  }
  subscribe(command.watch).then(
    () => write({ reply: command.id }),
    (err: unknown) => write({ reply: command.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
commands.on("close", () => {
  stopping = true;
  agent.destroy();
  process.exit(0);
});
write({ ready: true });
