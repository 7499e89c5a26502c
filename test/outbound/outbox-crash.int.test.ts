import type net from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseBlobStore } from "../../src/blobs/blob-store.js";
import type { Db } from "../../src/db/database.js";
import { IngestService } from "../../src/ingest/ingest.service.js";
import { parseMail } from "../../src/ingest/parse-mail.js";
import { systemClock } from "../../src/shared/clock.js";
import { openTestDb, testDialects, type TestDb } from "../support/dialects.js";
import { commitMessages, insertMailboxRow } from "../support/ingest-fixtures.js";
import { ApiClient, startMailroomProcess, type MailroomProcess } from "../support/mailroom-process.js";
import { listenOnLoopback } from "../support/net.js";

/**
 * The outbox under kill -9, on each dialect: a real `mailroom start` process sends agents' replies
 * through an SMTP server and is killed while it sends, the server itself choosing the moment: right
 * after it answered 250 to a message (the process cannot have recorded "sent" yet), and once with the
 * message in but before its 250. After every kill the process starts again on the same data dir and
 * database. In the end every reply reached the server at least once (nothing lost) and at most once more
 * per kill it was in flight at, never more than twice; every outbox row is "sent". The test waits for
 * progress (the server's count, the rows' states), never for the clock: it fails when nothing moves for
 * `stallMs` while the process lives and work remains, so a slow machine only makes it take longer.
 */

/** replies, from three agents (an agent's capacity is at most 100): enough that three kills find rows still to send */
const replies = 240;
const agentNames = ["agent1", "agent2", "agent3"];
/** the sender's lease (MAILROOM_OUTBOX_LEASE_SECONDS): a row in flight at a kill is claimed again after it */
const leaseSeconds = 2;
const stallMs = 60_000;
const smtpUser = "sender@acme.test";
const smtpPassword = "smtp-password-1";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const messageIdOf = (raw: Buffer) => /^message-id:[ \t]*<([^>\r\n]+)>/im.exec(raw.toString("latin1"))?.[1] ?? null;
const replyText = (i: number) => `Your parcel ${i} is on its way. [outbox-crash reply ${i}]`;

/**
 * When the SMTP server kills the Mailroom process: on a message whose data is in, once `ready` says so,
 * right after answering it 250 ("after250") or instead of answering ("before250").
 */
interface KillPlan {
  moment: "after250" | "before250";
  ready: () => boolean | Promise<boolean>;
  kill: () => void;
  /** set when the kill happened: the Message-ID of the message it happened on */
  firedOn?: string | null;
}

interface CrashSink {
  host: "127.0.0.1";
  port: number;
  /** Message-IDs of the messages the server took (answered 250), in order */
  readonly accepted: string[];
  /** the raw message of each Message-ID, as first taken */
  readonly raws: Map<string, Buffer>;
  arm(plan: KillPlan | null): void;
  close(): Promise<void>;
}

/** An SMTP server (smtp-server on 127.0.0.1, with a login) that records what it takes and kills the sending process on cue. */
async function startCrashSink(): Promise<CrashSink> {
  const accepted: string[] = [];
  const raws = new Map<string, Buffer>();
  // smtp-server keeps its sockets to itself; they are found by the client's port (every client is on 127.0.0.1)
  const sockets = new Map<number, net.Socket>();
  let plan: KillPlan | null = null;
  const replyError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

  const take = (raw: Buffer): string => {
    const id = messageIdOf(raw) ?? `(no Message-ID #${accepted.length})`;
    accepted.push(id);
    if (!raws.has(id)) raws.set(id, raw);
    return id;
  };
  /** Kills the process and hangs up on every connection: a dead client cannot hear a 250, so nothing more is taken. */
  const fire = (p: KillPlan, on: string | null) => {
    p.kill();
    p.firedOn = on;
    for (const socket of sockets.values()) socket.destroy();
  };

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ["STARTTLS"],
    logger: false,
    authMethods: ["PLAIN", "LOGIN"],
    allowInsecureAuth: true,
    disableReverseLookup: true,
    onAuth(auth: SMTPServerAuthentication, _session: SMTPServerSession, callback: (err: Error | null | undefined, response?: { user?: string }) => void) {
      if (auth.username === smtpUser && auth.password === smtpPassword) return callback(null, { user: smtpUser });
      return callback(replyError(535, "5.7.8 Authentication credentials invalid"));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        void (async () => {
          const raw = Buffer.concat(chunks);
          const p = plan;
          const due = p !== null && p.firedOn === undefined && (await p.ready());
          const socket = sockets.get(session.remotePort);
          // the client hung up (or was killed) while the data came in: it hears no 250, nothing is taken
          if (!socket || socket.destroyed) return callback(replyError(451, "gone"));
          if (p && due && p.firedOn === undefined) {
            if (p.moment === "before250") {
              fire(p, messageIdOf(raw));
              return callback(replyError(451, "killed before the 250"));
            }
            const id = take(raw);
            callback(null, `Ok: queued as ${accepted.length}`);
            // the 250 is on its way: the process dies before it can record "sent"
            fire(p, id);
            return;
          }
          take(raw);
          callback(null, `Ok: queued as ${accepted.length}`);
        })().catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
      });
    },
  });
  server.on("error", () => undefined); // a killed client vanishes mid-command
  server.server.on("connection", (socket: net.Socket) => {
    const port = socket.remotePort;
    if (port === undefined) return;
    sockets.set(port, socket);
    socket.once("close", () => sockets.delete(port));
  });
  const port = await listenOnLoopback(server.server);
  return {
    host: "127.0.0.1",
    port,
    accepted,
    raws,
    arm(p) {
      plan = p;
    },
    close() {
      for (const socket of sockets.values()) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface OutboxState {
  id: string;
  state: string;
  attempts: number;
  claimed_until: string | null;
}

async function outboxRows(db: Db): Promise<OutboxState[]> {
  const rows = await db.kysely.selectFrom("outbox").select(["id", "state", "attempts", "claimed_until"]).execute();
  return rows.map((r) => ({ ...r, attempts: Number(r.attempts) }));
}

describe.each(testDialects())("outbox crash safety: kill -9 while replies are being sent (%s)", (dialect) => {
  let store: TestDb;
  let sink: CrashSink;
  let server: MailroomProcess | undefined;

  beforeAll(async () => {
    store = await openTestDb(dialect);
    sink = await startCrashSink();
  });

  afterAll(async () => {
    if (server) await server.kill9();
    await sink?.close();
    await store?.cleanup();
  });

  const start = (env: Record<string, string> = {}) =>
    startMailroomProcess({
      dataDir: store.dataDir,
      database: store.databaseConfig,
      env: { MAILROOM_OUTBOX_LEASE_SECONDS: String(leaseSeconds), MAILROOM_OUTBOX_RETRY_SECONDS: "1", ...env },
    });

  /**
   * Polls until the check says done. Fails when the process ended though the check is not done, or
   * when the check's `progress` stood still for `stallMs`.
   */
  async function untilDone(what: string, proc: MailroomProcess, check: () => Promise<{ done: boolean; progress: number }>, everyMs = 50): Promise<void> {
    let last: number | null = null;
    let lastMovedAt = Date.now();
    const situation = async () => {
      const states = new Map<string, number>();
      for (const r of await outboxRows(store.db)) states.set(r.state, (states.get(r.state) ?? 0) + 1);
      return `${sink.accepted.length} messages taken; outbox rows: ${[...states].map(([state, n]) => `${n} ${state}`).join(", ")}`;
    };
    for (;;) {
      const { done, progress } = await check();
      if (done) return;
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`mailroom ended while waiting for ${what} (${await situation()}):\n${proc.output().slice(-4000)}`);
      }
      if (progress !== last) {
        last = progress;
        lastMovedAt = Date.now();
      } else if (Date.now() - lastMovedAt > stallMs) {
        throw new Error(`no progress for ${stallMs / 1000} s while waiting for ${what} (${await situation()}):\n${proc.output().slice(-4000)}`);
      }
      await sleep(everyMs);
    }
  }

  it("sends every reply at least once and at most once more per kill it was in flight at", { timeout: 20 * 60_000 }, async () => {
    // --- setting up, with a process that sends nothing (MAILROOM_RUNNERS=false: no outbox sender)
    server = await start({ MAILROOM_RUNNERS: "false" });
    const admin = await ApiClient.login(server.base);
    const folder = await admin.call<{ id: string }>("POST", "/api/v1/business-attributes", { name: "Agents" });
    await admin.call("POST", `/api/v1/business-attributes/${folder.id}/values`, { name: "sales@acme.test", displayName: "Acme Sales" });
    await admin.call("POST", "/api/v1/mailboxes", {
      clientType: "outbound", type: "SMTP", mailbox: smtpUser, password: smtpPassword, host: sink.host, port: sink.port, security: "none",
      fromAddress: "support@acme.test", fromAddressFolderId: folder.id,
    });
    const queue = await admin.call<{ id: string }>("POST", "/api/v1/queues", { name: "Crash" });
    // the inbound mailbox the customers' mail comes through (no password: it has no runner, it only lends its id)
    await insertMailboxRow(store.db.kysely, "mb-crash");
    await admin.call("POST", "/api/v1/applications", { name: "Crash", enabled: true, queueId: queue.id, mailboxIds: ["mb-crash"] });
    const agentIds: string[] = [];
    for (const username of agentNames) {
      const agentUser = await admin.call<{ id: string }>("POST", "/api/v1/users", { username, password: "agent-password-1", role: "agent" });
      await admin.call("PATCH", `/api/v1/users/${agentUser.id}`, { capacity: 100 });
      agentIds.push(agentUser.id);
    }
    await admin.call("PUT", `/api/v1/queues/${queue.id}/agents`, { userIds: agentIds });

    // the customers' mail, stored through the test's own connection (the process reads the same database)
    const ingest = new IngestService(store.db.kysely, new DatabaseBlobStore(store.db.kysely), parseMail, systemClock);
    const mail = Array.from({ length: replies }, (_, i) => {
      const raw = Buffer.from(
        [`Message-ID: <c${i}@customer.test>`, `From: Customer ${i} <c${i}@customer.test>`, "To: support@acme.test", `Subject: Parcel ${i}`, "Date: Mon, 30 Nov 2026 09:00:00 +0000", "", "Where is my parcel?", ""].join("\r\n"),
      );
      return { sourceKey: `k:${i}`, raw, size: raw.length, truncated: false, receivedAt: null };
    });
    const interactionIds = (await commitMessages(ingest, { mailboxId: "mb-crash", queueId: queue.id }, mail)).created;
    expect(interactionIds).toHaveLength(replies);

    // signed in after the From address exists: the session holds it
    const agents = await Promise.all(agentNames.map((name) => ApiClient.login(server!.base, name, "agent-password-1")));
    /** reply i: its outbox row and Message-ID */
    const sent: { outboundId: string; messageId: string }[] = [];
    for (const [i, id] of interactionIds.entries()) {
      const agent = agents[i % agents.length]!;
      await agent.call("POST", `/api/v1/interactions/${id}/accept`);
      sent.push(await agent.call<{ outboundId: string; messageId: string }>("POST", `/api/v1/interactions/${id}/reply`, { from: "sales@acme.test", text: replyText(i) }));
    }
    const rowOf = new Map(sent.map((s, i) => [s.outboundId, i]));
    const indexOfMessage = new Map(sent.map((s, i) => [s.messageId, i]));
    expect((await outboxRows(store.db)).map((r) => r.state)).toEqual(Array(replies).fill("queued"));
    expect(sink.accepted).toHaveLength(0);
    await server.stop();
    server = undefined;

    // --- the kills; each one's rows in flight must be sent before the next kill, so no reply is in flight at two
    const inFlight: Set<string>[] = [];
    const allSent = async (ids: Set<string>) => (await outboxRows(store.db)).every((r) => !ids.has(r.id) || r.state === "sent");
    const plans: Omit<KillPlan, "kill">[] = [
      // after the 250 of the tenth message
      { moment: "after250", ready: () => sink.accepted.length >= 9 },
      // after a 250, once the first kill's rows are sent again
      { moment: "after250", ready: () => allSent(inFlight[0]!) },
      // with a message's data in, before its 250, once the second kill's rows are sent again
      { moment: "before250", ready: () => allSent(inFlight[1]!) },
    ];
    const kills: { moment: KillPlan["moment"]; firedOn: string | null; inFlight: number; takenAtKill: number; triggerInFlight: boolean }[] = [];

    for (const [k, planned] of plans.entries()) {
      const life = await start();
      server = life;
      // armed once the process runs (it may have sent some already: the plans wait for a count or for rows)
      const plan: KillPlan = { ...planned, kill: () => life.child.kill("SIGKILL") };
      sink.arm(plan);
      await untilDone(`kill ${k + 1} (${plan.moment})`, life, async () => {
        if (plan.firedOn !== undefined) return { done: true, progress: 0 };
        const rows = await outboxRows(store.db);
        if (rows.every((r) => r.state === "sent")) throw new Error(`every reply was sent before kill ${k + 1} (${plan.moment}) happened: the test needs more replies`);
        return { done: false, progress: sink.accepted.length + rows.filter((r) => r.state === "sent").length };
      });
      await life.kill9();
      server = undefined;

      const rows = await outboxRows(store.db);
      const sending = new Set(rows.filter((r) => r.state === "sending").map((r) => r.id));
      inFlight.push(sending);
      // a row recorded as sent was taken by the server: "sent" is only ever written after the 250
      const taken = new Set(sink.accepted);
      for (const r of rows) if (r.state === "sent") expect(taken.has(sent[rowOf.get(r.id)!]!.messageId), `row ${r.id} is sent but the server never took it`).toBe(true);
      const trigger = plan.firedOn ? indexOfMessage.get(plan.firedOn) : undefined;
      expect(trigger, `kill ${k + 1} happened on a reply of this test`).toBeDefined();
      kills.push({
        moment: plan.moment,
        firedOn: plan.firedOn ?? null,
        inFlight: sending.size,
        takenAtKill: sink.accepted.length,
        triggerInFlight: sending.has(sent[trigger!]!.outboundId),
      });
      // the next life claims these rows first: wait out their lease
      const until = Math.max(0, ...rows.filter((r) => sending.has(r.id) && r.claimed_until).map((r) => Date.parse(r.claimed_until!)));
      while (Date.now() <= until) await sleep(Math.min(200, until - Date.now() + 1));
    }
    sink.arm(null);

    // --- the last life sends the rest, the rows of the last kill among them
    const last = await start();
    server = last;
    await untilDone("the last life to send every reply", last, async () => {
      const rows = await outboxRows(store.db);
      const done = rows.filter((r) => r.state === "sent").length;
      return { done: done === replies, progress: sink.accepted.length + done };
    });
    await last.stop();
    server = undefined;

    // --- what the server got: every reply, at most once more per kill it was in flight at, never more than twice
    const copies = new Map<string, number>();
    for (const id of sink.accepted) copies.set(id, (copies.get(id) ?? 0) + 1);
    expect([...copies.keys()].filter((id) => !indexOfMessage.has(id)), "messages the test did not send").toEqual([]);
    let doubles = 0;
    const doublesPerKill = kills.map(() => 0);
    for (const [i, { outboundId, messageId }] of sent.entries()) {
      const n = copies.get(messageId) ?? 0;
      const at = inFlight.flatMap((rows, k) => (rows.has(outboundId) ? [k] : []));
      expect(n, `reply ${i} reached the server`).toBeGreaterThanOrEqual(1);
      expect(n, `reply ${i} was sent at most once more per kill it was in flight at`).toBeLessThanOrEqual(1 + at.length);
      expect(n, `reply ${i} was sent at most twice`).toBeLessThanOrEqual(2);
      if (n === 2) {
        doubles++;
        doublesPerKill[at[0]!]!++;
      }
    }
    for (const [k, kill] of kills.entries()) expect(doublesPerKill[k], `doubles of kill ${k + 1}`).toBeLessThanOrEqual(kill.inFlight);
    expect(doubles).toBeLessThanOrEqual(kills.reduce((sum, kill) => sum + kill.inFlight, 0));

    // the kills hit the window they were meant for
    const afterTheirs = kills.filter((kill) => kill.moment === "after250");
    // the process could only have recorded "sent" had it read the 250 and committed in the instant before SIGKILL
    expect(afterTheirs.filter((kill) => kill.triggerInFlight).length, "kills after a 250 that found the reply still in flight").toBeGreaterThanOrEqual(1);
    for (const kill of afterTheirs) if (kill.triggerInFlight) expect(copies.get(kill.firedOn!), `the reply killed after its 250 (${kill.firedOn}) went out once more`).toBe(2);
    for (const kill of kills.filter((kill) => kill.moment === "before250")) {
      expect(kill.triggerInFlight, "the reply killed before its 250 was in flight").toBe(true);
      expect(copies.get(kill.firedOn!), "the reply killed before its 250 went out once, after the restart").toBe(1);
    }

    // every row sent; each copy the server got is the reply the agent wrote
    const rows = await outboxRows(store.db);
    expect(rows.filter((r) => r.state !== "sent")).toEqual([]);
    for (const r of rows) {
      const i = rowOf.get(r.id)!;
      const times = inFlight.filter((ids) => ids.has(r.id)).length;
      expect(r.attempts, `attempts of reply ${i}`).toBeGreaterThanOrEqual(1 + times);
    }
    for (const [i, { messageId }] of sent.entries()) {
      const parsed = await simpleParser(sink.raws.get(messageId)!);
      expect(parsed.text, `the text of reply ${i}`).toContain(replyText(i));
    }
    console.info(
      `outbox crash (${dialect}): ${replies} replies, ${sink.accepted.length} messages taken, ${doubles} doubles; kills: ` +
        kills.map((kill, k) => `#${k + 1} ${kill.moment} at ${kill.takenAtKill} taken, ${kill.inFlight} in flight, trigger in flight ${kill.triggerInFlight}, ${doublesPerKill[k]} doubles`).join("; "),
    );
  });
});
