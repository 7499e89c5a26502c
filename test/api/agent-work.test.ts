import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseBlobStore } from "../../src/blobs/blob-store.js";
import { IngestService } from "../../src/ingest/ingest.service.js";
import { systemActor } from "../../src/features/audit/audit.service.js";
import { systemClock } from "../../src/shared/clock.js";
import { testDialects } from "../support/dialects.js";
import { commitMessages, fakeParse, insertMailboxRow, msg } from "../support/ingest-fixtures.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

interface Item {
  id: string;
  queueId: string | null;
  agentId: string | null;
  state: string;
}

describe.each(testDialects())("the agent's work on interactions (%s)", (dialect) => {
  let t: TestApp;
  let admin: string;
  let supervisor: string;
  let ingest: IngestService;
  const agents: Record<"ann" | "bob" | "cy", { id: string; token: string }> = { ann: { id: "", token: "" }, bob: { id: "", token: "" }, cy: { id: "", token: "" } };
  const queue = { support: "", billing: "" };
  let key = 0;

  const call = async (method: "GET" | "POST" | "PATCH" | "PUT", url: string, token: string, payload?: object) =>
    t.request({ method, url, token, ...(payload ? { payload } : {}) });
  /** new interactions in a queue, oldest first */
  const arrive = async (queueId: string, count: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = ++key;
      ids.push(...(await commitMessages(ingest, { mailboxId: "mb1", queueId }, [msg(`1:${n}`, `w${n}@x|work ${n}`)])).created);
    }
    return ids;
  };
  const view = async (id: string, token = admin) => (await call("GET", `/api/v1/interactions/${id}`, token)).json<Item>();

  beforeAll(async () => {
    t = await createTestApp(dialect);
    admin = await t.tokenFor("admin");
    supervisor = await t.tokenFor("supervisor");
    for (const name of ["support", "billing"] as const) queue[name] = (await call("POST", "/api/v1/queues", admin, { name })).json().id;
    for (const name of ["ann", "bob", "cy"] as const) {
      const user = await t.app.services.users.create(systemActor, { username: name, password: `${name}-password-1`, role: "agent" });
      const login = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: name, password: `${name}-password-1` } });
      agents[name] = { id: user.id, token: login.json().token };
    }
    expect((await call("PUT", `/api/v1/queues/${queue.support}/agents`, supervisor, { userIds: [agents.ann.id, agents.bob.id] })).statusCode).toBe(200);
    expect((await call("PUT", `/api/v1/queues/${queue.billing}/agents`, admin, { userIds: [agents.cy.id] })).statusCode).toBe(200);
    await insertMailboxRow(t.store.db.kysely, "mb1");
    ingest = new IngestService(t.store.db.kysely, new DatabaseBlobStore(t.store.db.kysely), fakeParse, systemClock);
  });
  afterAll(async () => t?.close());

  it("keeps queue membership, and refuses users that do not exist", async () => {
    expect((await call("GET", `/api/v1/queues/${queue.support}/agents`, admin)).json()).toEqual({ userIds: [agents.ann.id, agents.bob.id].sort() });
    const bad = await call("PUT", `/api/v1/queues/${queue.support}/agents`, admin, { userIds: [agents.ann.id, "ghost"] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details).toEqual([{ path: "userIds.1", message: "ghost is not an enabled user" }]);
    expect((await call("PUT", `/api/v1/queues/${queue.support}/agents`, agents.ann.token, { userIds: [] })).statusCode).toBe(403);
    expect((await call("GET", "/api/v1/queues/nope/agents", admin)).statusCode).toBe(404);
  });

  it("shows agents only their queues' interactions and those they hold; admins and supervisors all", async () => {
    const [support] = await arrive(queue.support, 1);
    const [billing] = await arrive(queue.billing, 1);
    const listed = async (token: string) => ((await call("GET", "/api/v1/interactions?limit=200", token)).json().items as Item[]).map((i) => i.id);
    expect(await listed(agents.ann.token)).toContain(support);
    expect(await listed(agents.ann.token)).not.toContain(billing);
    expect(await listed(agents.cy.token)).toContain(billing);
    expect(await listed(agents.cy.token)).not.toContain(support);
    for (const token of [admin, supervisor]) expect(await listed(token)).toEqual(expect.arrayContaining([support, billing]));
    for (const path of ["", "/raw", "/history"]) {
      expect((await call("GET", `/api/v1/interactions/${billing}${path}`, agents.ann.token)).statusCode, path).toBe(404);
    }
    expect((await call("POST", `/api/v1/interactions/${billing}/accept`, agents.ann.token)).statusCode).toBe(404);
    // held by an agent of another queue (transferred to cy): cy sees it
    expect((await call("POST", `/api/v1/interactions/${support}/transfer`, supervisor, { agentId: agents.cy.id })).statusCode).toBe(200);
    expect(await listed(agents.cy.token)).toContain(support);
    await call("POST", `/api/v1/interactions/${support}/done`, admin);
    await call("POST", `/api/v1/interactions/${billing}/done`, admin);
  });

  it("gives a waiting interaction to exactly one of two agents accepting it at once", async () => {
    const ids = await arrive(queue.support, 8);
    for (const id of ids) {
      const [a, b] = await Promise.all([
        call("POST", `/api/v1/interactions/${id}/accept`, agents.ann.token),
        call("POST", `/api/v1/interactions/${id}/accept`, agents.bob.token),
      ]);
      expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
      const loser = a.statusCode === 409 ? a : b;
      expect(loser.json().error.code).toBe("already_assigned");
      const winner = a.statusCode === 200 ? agents.ann.id : agents.bob.id;
      expect(await view(id)).toMatchObject({ state: "assigned", agentId: winner });
      const history = (await call("GET", `/api/v1/interactions/${id}/history`, admin)).json().items as { action: string; actor: { id: string } | null }[];
      expect(history.map((h) => [h.action, h.actor?.id ?? null])).toEqual([
        ["routed", null],
        ["accepted", winner],
      ]);
      await call("POST", `/api/v1/interactions/${id}/done`, admin);
    }
  });

  it("accepts the oldest waiting interaction of the caller's queues, and answers 204 when none waits", async () => {
    const ids = await arrive(queue.support, 3);
    const [elsewhere] = await arrive(queue.billing, 1);
    const first = await call("POST", "/api/v1/interactions/accept-next", agents.bob.token);
    expect(first.json()).toMatchObject({ id: ids[0], state: "assigned", agentId: agents.bob.id });
    expect((await call("POST", "/api/v1/interactions/accept-next", agents.bob.token)).json().id).toBe(ids[1]);
    expect((await call("POST", "/api/v1/interactions/accept-next", agents.ann.token)).json().id).toBe(ids[2]);
    // the billing interaction is not in ann's queues
    expect((await call("POST", "/api/v1/interactions/accept-next", agents.ann.token)).statusCode).toBe(204);
    for (const id of [...ids, elsewhere]) await call("POST", `/api/v1/interactions/${id}/done`, admin);
  });

  it("stops at the agent's capacity", async () => {
    expect((await call("PATCH", `/api/v1/users/${agents.ann.id}`, admin, { capacity: 2 })).json()).toMatchObject({ capacity: 2 });
    const ids = await arrive(queue.support, 3);
    for (const id of ids.slice(0, 2)) expect((await call("POST", `/api/v1/interactions/${id}/accept`, agents.ann.token)).statusCode).toBe(200);
    const third = await call("POST", `/api/v1/interactions/${ids[2]}/accept`, agents.ann.token);
    expect(third.statusCode).toBe(409);
    expect(third.json().error.code).toBe("at_capacity");
    expect((await call("POST", "/api/v1/interactions/accept-next", agents.ann.token)).json().error.code).toBe("at_capacity");
    await call("POST", `/api/v1/interactions/${ids[0]}/done`, agents.ann.token);
    expect((await call("POST", `/api/v1/interactions/${ids[2]}/accept`, agents.ann.token)).statusCode).toBe(200);
    for (const id of ids.slice(1)) await call("POST", `/api/v1/interactions/${id}/done`, agents.ann.token);
    await call("PATCH", `/api/v1/users/${agents.ann.id}`, admin, { capacity: 5 });
  });

  it("transfers to a queue or an agent, and finishes; only the holder, supervisors and admins may", async () => {
    const [id] = await arrive(queue.support, 1);
    await call("POST", `/api/v1/interactions/${id}/accept`, agents.ann.token);
    expect((await call("POST", `/api/v1/interactions/${id}/done`, agents.bob.token)).statusCode).toBe(403);
    expect((await call("POST", `/api/v1/interactions/${id}/transfer`, agents.bob.token, { queueId: queue.billing })).statusCode).toBe(403);
    const both = await call("POST", `/api/v1/interactions/${id}/transfer`, agents.ann.token, { queueId: queue.billing, agentId: agents.cy.id });
    expect(both.statusCode).toBe(400);
    expect((await call("POST", `/api/v1/interactions/${id}/transfer`, agents.ann.token, { queueId: "nope" })).statusCode).toBe(400);
    const moved = await call("POST", `/api/v1/interactions/${id}/transfer`, agents.ann.token, { queueId: queue.billing });
    expect(moved.json()).toMatchObject({ state: "queued", queueId: queue.billing, agentId: null });
    // ann no longer sees it; cy, who works billing, takes it
    expect((await call("GET", `/api/v1/interactions/${id}`, agents.ann.token)).statusCode).toBe(404);
    expect((await call("POST", `/api/v1/interactions/${id}/accept`, agents.cy.token)).json()).toMatchObject({ agentId: agents.cy.id });
    expect((await call("POST", `/api/v1/interactions/${id}/transfer`, agents.cy.token, { agentId: agents.bob.id })).json()).toMatchObject({
      state: "assigned",
      agentId: agents.bob.id,
      queueId: queue.billing,
    });
    expect((await call("POST", `/api/v1/interactions/${id}/done`, agents.bob.token)).json()).toMatchObject({ state: "done" });
    const again = await call("POST", `/api/v1/interactions/${id}/done`, agents.bob.token);
    expect(again.statusCode).toBe(409);
    const actions = ((await call("GET", `/api/v1/interactions/${id}/history`, admin)).json().items as { action: string }[]).map((h) => h.action);
    expect(actions).toEqual(["routed", "accepted", "transferred", "accepted", "transferred", "done"]);
  });

  it("offers waiting work to an available agent up to capacity, and more when one is done", async () => {
    const ids = await arrive(queue.billing, 4);
    expect((await call("PATCH", `/api/v1/users/${agents.cy.id}`, admin, { capacity: 3 })).statusCode).toBe(200);
    expect((await call("PUT", "/api/v1/me/availability", agents.cy.token, { available: true })).json()).toEqual({ available: true, capacity: 3 });
    await t.app.services.work.offer();
    const states = await Promise.all(ids.map((id) => view(id)));
    expect(states.map((s) => s.state)).toEqual(["assigned", "assigned", "assigned", "queued"]);
    expect(new Set(states.slice(0, 3).map((s) => s.agentId))).toEqual(new Set([agents.cy.id]));
    const offered = (await call("GET", `/api/v1/interactions/${ids[0]}/history`, admin)).json().items as { action: string; actor: unknown }[];
    expect(offered.at(-1)).toMatchObject({ action: "offered", actor: null });

    await call("POST", `/api/v1/interactions/${ids[0]}/done`, agents.cy.token);
    await t.app.services.work.offer();
    expect(await view(ids[3]!)).toMatchObject({ state: "assigned", agentId: agents.cy.id });
    await call("PUT", "/api/v1/me/availability", agents.cy.token, { available: false });
    for (const id of ids.slice(1)) await call("POST", `/api/v1/interactions/${id}/done`, agents.cy.token);
  });

  it("shows supervisors how many wait per queue and since when", async () => {
    await arrive(queue.support, 2);
    const stats = (await call("GET", "/api/v1/queues/stats", supervisor)).json().items as { queueId: string; waiting: number; oldestWaitingSeconds: number | null }[];
    expect(stats.find((s) => s.queueId === queue.support)).toMatchObject({ waiting: 2, oldestWaitingSeconds: expect.any(Number) });
    expect(stats.find((s) => s.queueId === queue.billing)).toMatchObject({ waiting: 0, oldestWaitingSeconds: null });
    expect((await call("GET", "/api/v1/queues/stats", agents.ann.token)).statusCode).toBe(403);
  });

  it("shows each agent the queues they work, with what waits in each, and no other", async () => {
    const mine = async (token: string) => (await call("GET", "/api/v1/me/queues", token)).json().items as { queueId: string; waiting: number }[];
    const support = (await call("GET", "/api/v1/queues/stats", supervisor)).json().items.find((s: { queueId: string }) => s.queueId === queue.support);
    expect(await mine(agents.ann.token)).toEqual([support]);
    expect((await mine(agents.cy.token)).map((q) => q.queueId)).toEqual([queue.billing]);
    // a supervisor works no queue here: an empty list, which the workspace explains
    expect(await mine(supervisor)).toEqual([]);
  });

  it("reads back the agent's availability as it was last set", async () => {
    const read = async () => (await call("GET", "/api/v1/me/availability", agents.bob.token)).json();
    expect((await call("PUT", "/api/v1/me/availability", agents.bob.token, { available: true })).statusCode).toBe(200);
    expect(await read()).toMatchObject({ available: true, capacity: expect.any(Number) });
    await call("PUT", "/api/v1/me/availability", agents.bob.token, { available: false });
    expect(await read()).toMatchObject({ available: false });
  });
});
