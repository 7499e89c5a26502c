import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { DatabaseBlobStore } from "../blobs/blob-store.js";
import { MailSourceError, type MailProtocol, type MailSource, type MailSourceSettings, type SourceMessage, type SyncContext } from "../connectors/mail-source.js";
import { InteractionsStore } from "../features/interactions/interactions.store.js";
import { IngestService } from "../ingest/ingest.service.js";
import { SourceStateStore } from "../ingest/ingest.store.js";
import { createLogger } from "../logger.js";
import { systemClock } from "../shared/clock.js";
import { Semaphore } from "../shared/semaphore.js";
import { openTestDb, type TestDb } from "../../test/support/dialects.js";
import { fakeParse, insertMailboxRow, msg } from "../../test/support/ingest-fixtures.js";
import type { EnabledInboundMailbox, MailboxStatusUpdate } from "../features/mailboxes/mailboxes.service.js";
import { MailboxRunner } from "./mailbox-runner.js";
import { RunnerManager } from "./runner-manager.js";
import { createRunnerMetrics } from "./runner-metrics.js";

/** A scripted mailbox: `inbox` holds what the server has; `fail` makes every sync throw. */
class ScriptedSource implements MailSource {
  readonly protocol: MailProtocol = "IMAP";
  closed = false;
  constructor(private readonly server: ScriptedServer) {}
  async sync(ctx: SyncContext) {
    this.server.syncs++;
    if (this.server.fail) throw this.server.fail;
    this.server.dirty = false;
    const known = await ctx.knownKeys(this.server.inbox.map((m) => m.sourceKey));
    const fresh = this.server.inbox.filter((m) => !known.has(m.sourceKey));
    if (fresh.length) await ctx.commit(fresh);
    const unacked = await ctx.unackedKeys();
    for (const k of unacked) this.server.seen.add(k);
    await ctx.markAcked(unacked);
    return { fetched: fresh.length, acked: unacked.length };
  }
  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<"changed" | "timeout" | "aborted"> {
    // like an IMAP server, report what arrived since the last sync as soon as the wait begins
    if (this.server.dirty) return Promise.resolve("changed");
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), timeoutMs);
      this.server.wake = () => {
        clearTimeout(timer);
        resolve("changed");
      };
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve("aborted");
      }, { once: true });
    });
  }
  close() {
    this.closed = true;
    return Promise.resolve();
  }
}

class ScriptedServer {
  inbox: SourceMessage[] = [];
  seen = new Set<string>();
  fail: Error | undefined;
  syncs = 0;
  dirty = false;
  wake: () => void = () => undefined;
  deliver(m: SourceMessage) {
    this.inbox.push(m);
    this.dirty = true;
    this.wake();
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
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
  const servers = new Map<string, ScriptedServer>();
  const statuses = new Map<string, MailboxStatusUpdate[]>();
  let interactions: InteractionsStore;

  function mailbox(id: string, updatedAt = "1"): EnabledInboundMailbox {
    const settings = { mailboxId: id } as MailSourceSettings;
    return { id, name: id, type: "IMAP", maxSizeMb: 5, queueId: "q1", applicationId: "app", updatedAt, settings, auth: { method: "password" } };
  }

  beforeEach(async () => {
    t = await openTestDb("sqlite");
    const k = t.db.kysely;
    await k.insertInto("queues").values({ id: "q1", name: "Support", created_at: new Date().toISOString() }).execute();
    for (const id of ["good", "broken"]) {
      await insertMailboxRow(k, id);
      servers.set(id, new ScriptedServer());
      statuses.set(id, []);
    }
    interactions = new InteractionsStore(k);
    const ingest = new IngestService(k, new DatabaseBlobStore(k), interactions, new SourceStateStore(k), fakeParse, systemClock);
    const metrics = createRunnerMetrics(new Registry());
    const log = createLogger("silent");
    enabled = [];
    listeners = [];
    const runnerDeps = {
      createSource: (_p: MailProtocol, s: MailSourceSettings) => new ScriptedSource(servers.get(s.mailboxId)!),
      ingest,
      sourceState: new SourceStateStore(k),
      setStatus: (id: string, s: MailboxStatusUpdate) => {
        statuses.get(id)!.push(s);
        return Promise.resolve();
      },
      ownAddresses: () => new Set<string>(),
      connectSlots: new Semaphore(4),
      clock: systemClock,
      log,
      metrics,
      waitMs: () => 60_000,
      backoff: { initialMs: 20, maxMs: 200 },
    };
    manager = new RunnerManager({
      listEnabledInbound: () => Promise.resolve(enabled),
      onMailboxesChanged: (l) => {
        listeners.push(l);
        return () => undefined;
      },
      createRunner: (m) => new MailboxRunner(m, runnerDeps),
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
    good.deliver(msg("1:1", "a@x|first"));
    await until(async () => (await interactions.count("good")) === 1, "the first message");
    good.deliver(msg("1:2", "b@x|second"));
    await until(async () => (await interactions.count("good")) === 2, "the second message");
    await until(() => good.seen.size === 2, "acknowledgement of both");

    const broken = statuses.get("broken")!;
    await until(() => servers.get("broken")!.syncs >= 3, "retries of the broken mailbox");
    expect(broken.at(-1)).toMatchObject({ state: "error", code: "auth_failed" });
    expect(broken.at(-1)!.message).toContain("AUTHENTICATIONFAILED");
    expect(statuses.get("good")!.at(-1)).toMatchObject({ state: "ok" });
    expect(manager.states()).toEqual(new Map([["good", "ok"], ["broken", "error"]]));
  });

  it("recovers when the cause goes away", async () => {
    const broken = servers.get("broken")!;
    broken.fail = new MailSourceError("connection_refused", "Nothing listens there.");
    broken.inbox.push(msg("1:1", "a@x|waiting"));
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
    servers.get("good")!.deliver(msg("1:9", "late@x|after disable"));
    // disabled: nothing takes the message any more
    await manager.reconcile();
    expect(await interactions.count("good")).toBe(0);
  });
});
