import { afterEach, describe, expect, it } from "vitest";
import { adminApi, createMailbox, createQueue, inboundImap, type AdminApi } from "../support/admin-api.js";
import { testDialects } from "../support/dialects.js";
import { MemoryMaildrop } from "../support/memory-source.js";
import { createPeerApp, type PeerApp } from "../support/peer-app.js";
import { createTestApp, type TestApp } from "../support/test-app.js";
import type { MailSourceFactory } from "../../src/connectors/mail-source.js";

interface NodeItem {
  id: string;
  name: string;
  startedAt: string;
  lastHeartbeatAt: string;
  mailboxIds: string[];
}

/** Every mailbox's maildrop in memory, the same for every node (as one mail server is). */
function memoryMailboxes(opened: Map<string, number> = new Map()): MailSourceFactory {
  const drops = new Map<string, MemoryMaildrop>();
  return (_protocol, settings) => {
    opened.set(settings.mailboxId, (opened.get(settings.mailboxId) ?? 0) + 1);
    let drop = drops.get(settings.mailboxId);
    if (!drop) drops.set(settings.mailboxId, (drop = new MemoryMaildrop()));
    return drop.source(`memory-${settings.mailboxId}`);
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function enabledMailboxes(api: AdminApi, n: number): Promise<string[]> {
  const queue = await createQueue(api);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await createMailbox(api, inboundImap({ name: `support_${i}`, mailbox: `support${i}@acme.test` })));
  const created = await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: ids });
  expect(created.statusCode).toBe(201);
  expect((await api.patch(`/api/v1/applications/${created.json<{ id: string }>().id}`, { enabled: true })).statusCode).toBe(200);
  return ids;
}

describe.each(testDialects())("the nodes view (%s)", (dialect) => {
  let t: TestApp;
  let peer: PeerApp | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
    await t?.close();
  });

  it("lists this node with the mailboxes it runs, names it on each mailbox's status, and is for admins only", async () => {
    t = await createTestApp(dialect, { runnersEnabled: true, node: { name: "node-a", leaseSeconds: 2 } }, { mailSources: memoryMailboxes() });
    const api = adminApi(t, await t.tokenFor("admin"));
    const ids = await enabledMailboxes(api, 2);
    await t.app.start();

    const nodes = await until("the node running both mailboxes", async () => {
      const items = (await api.get("/api/v1/nodes")).json<{ items: NodeItem[] }>().items;
      return items.length === 1 && items[0]!.mailboxIds.length === 2 ? items : undefined;
    });
    expect(nodes[0]).toMatchObject({ name: "node-a", mailboxIds: [...ids].sort() });
    expect(Date.parse(nodes[0]!.lastHeartbeatAt)).toBeGreaterThanOrEqual(Date.parse(nodes[0]!.startedAt));
    for (const id of ids) {
      const status = await until("the runner's status", async () => {
        const s = (await api.get(`/api/v1/mailboxes/${id}`)).json<{ status: { state: string; nodeId?: string } }>().status;
        return s.nodeId ? s : undefined;
      });
      expect(status.nodeId).toBe(nodes[0]!.id);
    }
    const ready = await t.request({ method: "GET", url: "/readyz" });
    expect(ready.json()).toEqual({ ok: true, node: { id: nodes[0]!.id, name: "node-a", mailboxes: 2, holdsLeases: true } });

    for (const role of ["agent", "supervisor"] as const) {
      expect((await t.request({ method: "GET", url: "/api/v1/nodes", token: await t.tokenFor(role) })).statusCode).toBe(403);
    }
    expect((await t.request({ method: "GET", url: "/api/v1/nodes" })).statusCode).toBe(401);
  });

  if (dialect === "postgres") {
    it("shares the mailboxes between two nodes, each run by one; a change made on one node restarts the mailbox on its owner; a stopped node's go to the other at once", async () => {
      const opened = new Map<string, number>();
      const sources = memoryMailboxes(opened);
      t = await createTestApp(dialect, { runnersEnabled: true, node: { name: "node-a", leaseSeconds: 2 } }, { mailSources: sources });
      const api = adminApi(t, await t.tokenFor("admin"));
      const ids = await enabledMailboxes(api, 6);
      peer = await createPeerApp(t, { node: { name: "node-b", leaseSeconds: 2 } }, { mailSources: sources });
      await Promise.all([t.app.start(), peer.app.start()]);

      // either node answers for both
      const shared = await until("three mailboxes on each node", async () => {
        const items = (await api.get("/api/v1/nodes")).json<{ items: NodeItem[] }>().items;
        return items.length === 2 && items.every((n) => n.mailboxIds.length === 3) ? items : undefined;
      });
      expect(shared.map((n) => n.name)).toEqual(["node-a", "node-b"]);
      expect(shared.flatMap((n) => n.mailboxIds).sort()).toEqual([...ids].sort());
      for (const node of shared) {
        for (const id of node.mailboxIds) {
          await until(`${id} reported by its owner`, async () =>
            (await api.get(`/api/v1/mailboxes/${id}`)).json<{ status: { nodeId?: string } }>().status.nodeId === node.id ? true : undefined,
          );
        }
      }

      // a mailbox changed through node-b restarts on its owner through the change feed, long before
      // the owner's own 30 s reconcile would have noticed
      const ownedByA = shared.find((n) => n.name === "node-a")!.mailboxIds[0]!;
      const before = opened.get(ownedByA) ?? 0;
      const patched = await peer.app.http.inject({
        method: "PATCH",
        url: `/api/v1/mailboxes/${ownedByA}`,
        headers: { authorization: `Bearer ${await t.tokenFor("admin")}` },
        payload: { maxSizeMb: 10 },
      });
      expect(patched.statusCode, patched.body).toBe(200);
      await until("the owner to restart the mailbox", async () => ((opened.get(ownedByA) ?? 0) > before ? true : undefined), 20_000);

      // a clean stop hands the leases back: node-a takes them at its next tick, not after the lease time
      await peer.close();
      peer = undefined;
      const alone = await until("node-a running all six", async () => {
        const items = (await api.get("/api/v1/nodes")).json<{ items: NodeItem[] }>().items;
        return items.length === 1 && items[0]!.mailboxIds.length === 6 ? items : undefined;
      });
      expect(alone[0]!.name).toBe("node-a");
    });
  }
});
