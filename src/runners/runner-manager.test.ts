import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { DatabaseBlobStore } from "../blobs/blob-store.js";
import { MailSourceError, type MailProtocol, type MailSource, type MailSourceSettings } from "../connectors/mail-source.js";
import { FencedOutError } from "../db/fence.js";
import { InteractionsStore } from "../features/interactions/interactions.store.js";
import { IngestService } from "../ingest/ingest.service.js";
import { createLogger } from "../logger.js";
import { systemClock } from "../shared/clock.js";
import { Semaphore } from "../shared/semaphore.js";
import { openTestDb, type TestDb } from "../../test/support/dialects.js";
import { fakeParse, insertMailboxRow } from "../../test/support/ingest-fixtures.js";
import { MemoryMaildrop } from "../../test/support/memory-source.js";
import type { EnabledInboundMailbox, MailboxStatusUpdate } from "../features/mailboxes/mailboxes.service.js";
import { MailboxRunner } from "./mailbox-runner.js";
import { SingleNodeLeases } from "../cluster/leases.js";
import { RunnerManager } from "./runner-manager.js";
import { createRunnerMetrics } from "./runner-metrics.js";

/** A hang guard, not a measure: runner progress is awaited, and this only ends a test that stopped progressing. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("mailbox runners", () => {
  let t: TestDb;
  let manager: RunnerManager;
  let enabled: EnabledInboundMailbox[];
  let listeners: (() => void)[];
  const servers = new Map<string, MemoryMaildrop>();
  const warnings: string[] = [];
  let connectSlots: Semaphore;
  const statuses = new Map<string, MailboxStatusUpdate[]>();
  let interactions: InteractionsStore;
  /** when set, a status write waits for it (and may fail): a write under way while the runner stops */
  let statusHook: ((id: string, s: MailboxStatusUpdate) => Promise<void>) | undefined;
  let sources: MailSource[];
  /** the syncs that read their cursor from the database */
  let cursorReads: number;

  function mailbox(id: string, updatedAt = "1"): EnabledInboundMailbox {
    const settings = { mailboxId: id } as MailSourceSettings;
    return { id, name: id, type: "IMAP", maxSizeMb: 5, queueId: "q1", applicationId: "app", updatedAt, settings, auth: { method: "password" } };
  }

  beforeEach(async () => {
    t = await openTestDb("sqlite");
    const k = t.db.kysely;
    await k.insertInto("queues").values({ id: "q1", name: "Support", created_at: new Date().toISOString() }).execute();
    for (const id of ["good", "broken", "quiet"]) {
      await insertMailboxRow(k, id);
      servers.set(id, new MemoryMaildrop());
      statuses.set(id, []);
    }
    interactions = new InteractionsStore(k);
    const ingest = new IngestService(k, new DatabaseBlobStore(k), fakeParse, systemClock);
    connectSlots = new Semaphore(4);
    const metrics = createRunnerMetrics(new Registry());
    const log = createLogger("silent");
    enabled = [];
    statusHook = undefined;
    sources = [];
    cursorReads = 0;
    listeners = [];
    const runnerDeps = {
      createSource: (_p: MailProtocol, s: MailSourceSettings) => {
        const source = servers.get(s.mailboxId)!.source(`memory-${s.mailboxId}`);
        sources.push(source);
        return source;
      },
      ingest: {
        forMaildrop: (...args: Parameters<IngestService["forMaildrop"]>) => {
          const store = ingest.forMaildrop(...args);
          return new Proxy(store, {
            get: (target, name) => {
              if (name === "loadCursor") cursorReads++;
              const value = Reflect.get(target, name) as unknown;
              return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
            },
          });
        },
      },
      setStatus: (id: string, s: MailboxStatusUpdate) => {
        statuses.get(id)!.push(s);
        return statusHook ? statusHook(id, s) : Promise.resolve();
      },
      recordWarning: (_id: string, code: string) => {
        warnings.push(code);
        return Promise.resolve();
      },
      ownAddresses: () => new Set<string>(),
      get connectSlots() {
        return connectSlots;
      },
      clock: systemClock,
      log,
      metrics,
      waitMs: () => 60_000,
      backoff: { initialMs: 20, maxMs: 200 },
    };
    manager = new RunnerManager({
      listEnabledInbound: () => Promise.resolve(enabled),
      listEnabledIds: () => Promise.resolve(enabled.map((m) => m.id)),
      onMailboxesChanged: (l) => {
        listeners.push(l);
        return () => undefined;
      },
      createRunner: (m, lease) => new MailboxRunner(m, runnerDeps, lease),
      leases: new SingleNodeLeases({ id: "node-1", name: "test node" }, t.db.kysely, 60_000),
      supports: (type) => type === "IMAP" || type === "POP3",
      log,
      metrics,
      reconcileEveryMs: 60_000,
    });
  });

  afterEach(async () => {
    await manager?.stop();
    await t?.cleanup();
  });

  it("keeps a healthy mailbox flowing while another fails, and reports the failure with its code and words", async () => {
    servers.get("broken")!.fail = new MailSourceError("auth_failed", "The server refused the login for broken.", "[AUTHENTICATIONFAILED] Authentication failed.");
    enabled = [mailbox("good"), mailbox("broken")];
    await manager.start();
    const good = servers.get("good")!;
    good.deliver("a@x|first");
    await until(async () => (await interactions.count("good")) === 1, "the first message");
    good.deliver("b@x|second");
    await until(async () => (await interactions.count("good")) === 2, "the second message");
    await until(() => good.acknowledged.length === 2, "acknowledgement of both");

    const broken = statuses.get("broken")!;
    await until(() => servers.get("broken")!.syncs >= 3, "retries of the broken mailbox");
    expect(broken.at(-1)).toMatchObject({ state: "error", code: "auth_failed" });
    expect(broken.at(-1)!.message).toContain("AUTHENTICATIONFAILED");
    expect(statuses.get("good")!.at(-1)).toMatchObject({ state: "ok" });
    expect(manager.states()).toEqual(new Map([["good", "ok"], ["broken", "error"]]));
  });

  it("closes the connection of a runner stopped while its sync fails (a status write refused as the lease went)", async () => {
    let failWrite!: () => void;
    const writeFails = new Promise<void>((_resolve, reject) => (failWrite = () => reject(new FencedOutError("the lease is gone"))));
    writeFails.catch(() => undefined);
    let writing!: () => void;
    const writeStarted = new Promise<void>((r) => (writing = r));
    statusHook = (_id, s) => {
      if (s.state !== "ok") return Promise.resolve();
      writing();
      return writeFails;
    };
    enabled = [mailbox("quiet")];
    await manager.start();
    await writeStarted;
    // the mailbox is disabled while its first sync's status write is under way; the write then fails
    enabled = [];
    listeners.forEach((l) => l());
    await until(() => manager.states().size === 0, "the runner to be dropped");
    failWrite();
    await until(() => (sources[0] as unknown as { closed: boolean }).closed, "the connection to be closed");
    expect(sources).toHaveLength(1);
  });

  it("reads a mailbox's cursor from the database once per connection: each later sync on it begins where the one before ended", async () => {
    const good = servers.get("good")!;
    enabled = [mailbox("good")];
    await manager.start();
    await until(() => manager.states().get("good") === "ok", "the first sync");
    good.deliver("a@x|first");
    await until(async () => (await interactions.count("good")) === 1, "the first message");
    good.deliver("b@x|second");
    await until(async () => (await interactions.count("good")) === 2, "the second message");
    await until(() => good.acknowledged.length === 2, "acknowledgement of both");
    // three syncs: the first on the connection, and one for each message
    expect(good.syncs).toBe(3);
    expect(cursorReads).toBe(1);

    // the connection breaks: the next one reads the cursor again
    good.fail = new MailSourceError("closed", "The server closed the connection.");
    good.deliver("c@x|third");
    await until(() => statuses.get("good")!.at(-1)?.state === "error", "the failure");
    good.fail = undefined;
    await until(async () => (await interactions.count("good")) === 3, "the third message on a new connection");
    expect(cursorReads).toBe(2);
  });

  it("recovers when the cause goes away", async () => {
    const broken = servers.get("broken")!;
    broken.fail = new MailSourceError("connection_refused", "Nothing listens there.");
    broken.deliver("a@x|waiting");
    enabled = [mailbox("broken")];
    await manager.start();
    await until(() => broken.syncs >= 2, "a retry");
    broken.fail = undefined;
    await until(async () => (await interactions.count("broken")) === 1, "the message after recovery");
    await until(() => statuses.get("broken")!.at(-1)?.state === "ok", "status ok");
  });

  it("starts and stops runners as mailboxes are enabled and disabled, and restarts one whose settings changed", async () => {
    await manager.start();
    expect(manager.states().size).toBe(0);
    enabled = [mailbox("good")];
    listeners.forEach((l) => l());
    await until(() => manager.states().get("good") === "ok", "the runner to start");
    const syncsBefore = servers.get("good")!.syncs;

    enabled = [mailbox("good", "2")];
    listeners.forEach((l) => l());
    await until(() => servers.get("good")!.syncs > syncsBefore, "a new sync after the settings change");

    enabled = [];
    listeners.forEach((l) => l());
    await until(() => manager.states().size === 0, "the runner to stop");
    servers.get("good")!.deliver("late@x|after disable");
    // disabled: nothing takes the message any more
    await manager.reconcile();
    expect(await interactions.count("good")).toBe(0);
  });

  it("syncs at once when woken from outside, instead of waiting for the server or the poll interval", async () => {
    const quiet = servers.get("quiet")!;
    enabled = [mailbox("quiet")];
    await manager.start();
    await until(() => manager.states().get("quiet") === "ok", "the runner to start");
    // delivered without the server telling anyone (as a Graph mailbox learns of mail from a webhook)
    quiet.messages.push({ key: "silent-1", raw: Buffer.from("s@x|silent"), acked: false });
    expect(manager.wake("quiet")).toBe(true);
    await until(async () => (await interactions.count("quiet")) === 1, "the message after the wake-up");
    expect(manager.wake("unknown")).toBe(false);
  });

  it("holds a login slot only while logging in: a mailbox whose first sync is long does not keep another from starting", async () => {
    connectSlots = new Semaphore(1);
    const slow = servers.get("good")!;
    let open!: () => void;
    slow.fetchGate = new Promise<void>((resolve) => (open = resolve));
    slow.deliver("big@x|a large backlog");
    servers.get("quiet")!.deliver("q@x|new mail elsewhere");
    enabled = [mailbox("good"), mailbox("quiet")];
    await manager.start();
    await until(async () => (await interactions.count("quiet")) === 1, "the quiet mailbox's mail while the other is still syncing");
    expect(await interactions.count("good")).toBe(0);
    open();
    await until(async () => (await interactions.count("good")) === 1, "the slow mailbox's mail");
  });
});
