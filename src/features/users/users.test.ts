import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";
import { testDialects } from "../../../test/support/dialects.js";
import { systemActor } from "../audit/audit.service.js";

interface AuditItem {
  action: string;
  actor: { id: string | null; username: string };
  target: { type: string; id: string | null };
  changes: Record<string, unknown>;
}

describe.each(testDialects())("users (%s)", (dialect) => {
  let t: TestApp;
  afterEach(async () => t?.close());

  async function signIn(username: string, password: string): Promise<string> {
    const res = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username, password } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ token: string }>().token;
  }

  async function createUser(username: string, role: "admin" | "supervisor" | "agent", password = `${username}-password-1`): Promise<string> {
    return (await t.app.services.users.create(systemActor, { username, password, role })).id;
  }

  const patch = (token: string, id: string, payload: Record<string, unknown>) => t.request({ method: "PATCH", url: `/api/v1/users/${id}`, token, payload });
  const me = (token: string) => t.request({ method: "GET", url: "/api/v1/me", token });
  const sessionsOf = async (userId: string) =>
    (await t.store.db.kysely.selectFrom("sessions").select("token_hash").where("user_id", "=", userId).execute()).length;
  const auditItems = async (admin: string) => (await t.request({ method: "GET", url: "/api/v1/audit", token: admin })).json<{ items: AuditItem[] }>().items;
  const adminId = async () => (await t.app.services.users.store.byUsername("admin"))!.id;

  it("lists users with whether they are disabled and when they last signed in", async () => {
    t = await createTestApp(dialect);
    const admin = await t.tokenFor("admin");
    await createUser("ann", "agent");
    const res = await t.request({ method: "GET", url: "/api/v1/users", token: admin });
    expect(res.statusCode).toBe(200);
    const items = res.json<{ items: Record<string, unknown>[] }>().items;
    expect(items.find((u) => u["username"] === "ann")).toMatchObject({ role: "agent", disabled: false, lastLoginAt: null, displayName: null });
    const adminItem = items.find((u) => u["username"] === "admin")!;
    expect(adminItem["disabled"]).toBe(false);
    expect(adminItem["lastLoginAt"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  });

  it("changes role and display name, clears the display name with null, and answers 404 for an unknown user", async () => {
    t = await createTestApp(dialect);
    const admin = await t.tokenFor("admin");
    const ann = await createUser("ann", "agent");
    const changed = await patch(admin, ann, { role: "supervisor", displayName: "  Ann Example " });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ id: ann, username: "ann", role: "supervisor", displayName: "Ann Example", disabled: false });
    const cleared = await patch(admin, ann, { displayName: null });
    expect(cleared.json()).toMatchObject({ role: "supervisor", displayName: null });
    // the new role is the one sign-in and every request see
    const annToken = await signIn("ann", "ann-password-1");
    expect((await me(annToken)).json()).toMatchObject({ role: "supervisor" });
    const missing = await patch(admin, "0190aaaa-0000-7000-8000-000000000000", { role: "agent" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("not_found");
  });

  it("refuses unknown fields, wrong types, and control or text-direction characters in display names", async () => {
    t = await createTestApp(dialect);
    const admin = await t.tokenFor("admin");
    const ann = await createUser("ann", "agent");
    const unknown = await patch(admin, ann, { role: "agent", password: "sneaky-password-1" });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.message).toContain("password");
    const bad = await patch(admin, ann, { role: "boss", disabled: "yes", displayName: "Ann\nEvil" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.map((d: { path: string }) => d.path).sort()).toEqual(["disabled", "displayName", "role"]);
    const bidi = await patch(admin, ann, { displayName: "Ann \u202Egnp.exe" });
    expect(bidi.statusCode).toBe(400);
    expect(bidi.json().error.details[0]).toMatchObject({ path: "displayName" });
    const created = await t.request({
      method: "POST",
      url: "/api/v1/users",
      token: admin,
      payload: { username: "bob", password: "bob-password-1", role: "agent", displayName: "Bob\u2066" },
    });
    expect(created.statusCode).toBe(400);
    expect(created.json().error.details[0]).toMatchObject({ path: "displayName" });
    expect((await t.app.services.users.store.byId(ann))?.display_name).toBeNull();
  });

  it("disabling a user ends all their sessions at once and keeps them out with the wrong-password answer; enabling lets them back in", async () => {
    t = await createTestApp(dialect);
    const admin = await t.tokenFor("admin");
    const ann = await createUser("ann", "agent");
    const first = await signIn("ann", "ann-password-1");
    const second = await signIn("ann", "ann-password-1");
    expect(await sessionsOf(ann)).toBe(2);

    const disabled = await patch(admin, ann, { disabled: true });
    expect(disabled.statusCode).toBe(200);
    expect(disabled.json()).toMatchObject({ disabled: true });
    expect(await sessionsOf(ann)).toBe(0);
    expect((await me(first)).statusCode).toBe(401);
    expect((await me(second)).statusCode).toBe(401);

    const refused = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "ann", password: "ann-password-1" } });
    const wrong = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: "wrong-password" } });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toEqual(wrong.json());

    expect((await patch(admin, ann, { disabled: false })).json()).toMatchObject({ disabled: false });
    expect((await me(await signIn("ann", "ann-password-1"))).statusCode).toBe(200);
  });

  it("does not accept the token of a disabled user even where a session of theirs is left", async () => {
    t = await createTestApp(dialect);
    const agent = await t.tokenFor("agent");
    // as a row written before the session ended (another node, an older version) would be
    await t.store.db.kysely.updateTable("users").set({ disabled: 1 }).where("username", "=", "agent1").execute();
    expect((await me(agent)).statusCode).toBe(401);
  });

  it("refuses to disable or demote the last enabled admin (409 last_admin); with another admin it may", async () => {
    t = await createTestApp(dialect);
    const admin = await t.tokenFor("admin");
    const self = await adminId();
    for (const change of [{ disabled: true }, { role: "agent" }]) {
      const res = await patch(admin, self, change);
      expect(res.statusCode, JSON.stringify(change)).toBe(409);
      expect(res.json().error).toMatchObject({ code: "last_admin" });
    }
    // a disabled admin is no admin to fall back on
    const other = await createUser("root2", "admin");
    expect((await patch(admin, other, { disabled: true })).statusCode).toBe(200);
    expect((await patch(admin, self, { role: "supervisor" })).json().error.code).toBe("last_admin");
    expect((await patch(admin, other, { disabled: false })).statusCode).toBe(200);
    const demoted = await patch(admin, self, { role: "supervisor" });
    expect(demoted.statusCode).toBe(200);
    expect(demoted.json()).toMatchObject({ role: "supervisor" });
    // the same rule holds for the system actor (the CLI)
    await expect(t.app.services.users.update(systemActor, other, { disabled: true })).rejects.toMatchObject({ code: "last_admin" });
  });

  it("two admins demoting each other at once leave exactly one enabled admin", async () => {
    t = await createTestApp(dialect);
    const rootToken = await t.tokenFor("admin");
    const rootId = await adminId();
    const otherId = await createUser("root2", "admin");
    const otherToken = await signIn("root2", "root2-password-1");
    const demoteEachOther = () => Promise.all([patch(rootToken, otherId, { role: "agent" }), patch(otherToken, rootId, { role: "agent" })]);
    let results: Awaited<ReturnType<typeof demoteEachOther>>;
    const database = t.store.databaseConfig;
    if (database.dialect === "postgres") {
      // Make the two meet for sure: hold the admins' rows, let both requests pass sign-in and wait on those
      // rows (for the lock that guards the rule, or, without it, for their updates), then let go.
      const holder = new pg.Client({ connectionString: database.url });
      await holder.connect();
      try {
        await holder.query("begin");
        await holder.query("select id from users where role = 'admin' for update");
        const racing = demoteEachOther();
        let settled = false;
        void racing.finally(() => (settled = true));
        // (a request that answered without waiting fails the assertions below instead of keeping this loop)
        while (!settled) {
          // inside a transaction the activity view keeps its first snapshot unless told to take a new one
          await holder.query("select pg_stat_clear_snapshot()");
          const waiting = await holder.query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
          );
          if (waiting.rows[0]!.n >= 2) break;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await holder.query("commit");
        results = await racing;
      } finally {
        await holder.end();
      }
    } else {
      // SQLite runs one write transaction at a time; the second waits for the first wherever it starts
      results = await demoteEachOther();
    }
    const statuses = results.map((r) => r.statusCode).sort();
    const bodies = JSON.stringify(results.map((r) => r.body));
    expect(statuses.filter((s) => s === 200), bodies).toHaveLength(1);
    // the loser found itself the last admin (409), or, on SQLite, may already have been demoted when it asked (403)
    expect(dialect === "postgres" ? [[200, 409]] : [[200, 409], [200, 403]], bodies).toContainEqual(statuses);
    const admins = await t.store.db.kysely.selectFrom("users").select("id").where("role", "=", "admin").where("disabled", "=", 0).execute();
    expect(admins).toHaveLength(1);
  });

  it("lets an admin set a user's password: the user's sessions end, the old password stops working, the new one works", async () => {
    t = await createTestApp(dialect);
    const admin = await t.tokenFor("admin");
    const ann = await createUser("ann", "agent");
    const annToken = await signIn("ann", "ann-password-1");
    const setPassword = (id: string, password: string) => t.request({ method: "POST", url: `/api/v1/users/${id}/password`, token: admin, payload: { password } });

    expect((await setPassword(ann, "short")).json().error.details[0]).toMatchObject({ path: "password" });
    expect((await setPassword("0190aaaa-0000-7000-8000-000000000000", "fresh-Password-7")).statusCode).toBe(404);
    const res = await setPassword(ann, "fresh-Password-7");
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe("");
    expect((await me(annToken)).statusCode).toBe(401);
    expect(await sessionsOf(ann)).toBe(0);
    expect((await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "ann", password: "ann-password-1" } })).statusCode).toBe(401);
    expect((await me(await signIn("ann", "fresh-Password-7"))).statusCode).toBe(200);
  });

  it("lets a signed-in user change their own password: a wrong current one is refused by field; their other sessions end, this one stays", async () => {
    t = await createTestApp(dialect);
    const ann = await createUser("ann", "agent");
    const here = await signIn("ann", "ann-password-1");
    const elsewhere = await signIn("ann", "ann-password-1");
    const change = (currentPassword: string, newPassword: string) =>
      t.request({ method: "POST", url: "/api/v1/me/password", token: here, payload: { currentPassword, newPassword } });

    const wrong = await change("not-my-password", "next-Password-8");
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toMatchObject({ code: "invalid_input", details: [{ path: "currentPassword" }] });
    expect((await me(elsewhere)).statusCode).toBe(200);
    expect((await change("ann-password-1", "short")).json().error.details[0]).toMatchObject({ path: "newPassword" });

    expect((await change("ann-password-1", "next-Password-8")).statusCode).toBe(204);
    expect((await me(here)).statusCode).toBe(200);
    expect((await me(elsewhere)).statusCode).toBe(401);
    expect(await sessionsOf(ann)).toBe(1);
    expect((await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "ann", password: "ann-password-1" } })).statusCode).toBe(401);
    await signIn("ann", "next-Password-8");
  });

  it("audits changes, password resets and password changes, never with a password (nor in the log)", async () => {
    t = await createTestApp(dialect);
    const admin = await t.tokenFor("admin");
    const ann = await createUser("ann", "agent");
    await signIn("ann", "ann-password-1");
    await patch(admin, ann, { role: "supervisor", displayName: "Ann" });
    await patch(admin, ann, { disabled: true });
    await patch(admin, ann, { disabled: false });
    await t.request({ method: "POST", url: `/api/v1/users/${ann}/password`, token: admin, payload: { password: "planted-Reset-41" } });
    const again = await signIn("ann", "planted-Reset-41");
    expect((await t.request({ method: "POST", url: "/api/v1/me/password", token: again, payload: { currentPassword: "planted-Reset-41", newPassword: "planted-Change-43" } })).statusCode).toBe(204);

    const items = (await auditItems(admin)).filter((i) => i.target.id === ann);
    const updates = items.filter((i) => i.action === "user.update").map((i) => i.changes);
    expect(updates).toEqual(
      expect.arrayContaining([
        { username: "ann", role: "supervisor", displayName: "Ann" },
        { username: "ann", disabled: true, sessionsEnded: 1 },
        { username: "ann", disabled: false },
      ]),
    );
    expect(items.find((i) => i.action === "user.password_reset")).toMatchObject({
      actor: { username: "admin" },
      changes: { username: "ann", password: "[secret]", sessionsEnded: 0 },
    });
    expect(items.find((i) => i.action === "user.password_change")).toMatchObject({
      actor: { id: ann, username: "ann" },
      changes: { password: "[secret]", sessionsEnded: 0 },
    });
    const audit = await t.request({ method: "GET", url: "/api/v1/audit", token: admin });
    for (const secret of ["planted-Reset-41", "planted-Change-43"]) {
      expect(audit.body).not.toContain(secret);
      expect(t.logText()).not.toContain(secret);
    }
  });

  it("changes users through the service as the system actor, as the CLI does", async () => {
    t = await createTestApp(dialect);
    const users = t.app.services.users;
    const ann = await createUser("ann", "agent");
    const annToken = await signIn("ann", "ann-password-1");
    expect(await users.update(systemActor, ann, { role: "supervisor" })).toMatchObject({ role: "supervisor" });
    expect(await users.update(systemActor, ann, { disabled: true })).toMatchObject({ disabled: true });
    expect((await me(annToken)).statusCode).toBe(401);
    await users.update(systemActor, ann, { disabled: false });
    await users.resetPassword(systemActor, ann, "cli-Password-9");
    await signIn("ann", "cli-Password-9");
    await expect(users.update(systemActor, await adminId(), { role: "agent" })).rejects.toMatchObject({ code: "last_admin" });
    const items = await auditItems(await t.tokenFor("admin"));
    const byCli = items.filter((i) => i.target.id === ann && i.action !== "user.create");
    expect(byCli.map((i) => i.action).sort()).toEqual(["user.password_reset", "user.update", "user.update", "user.update"]);
    for (const i of byCli) expect(i.actor).toEqual({ id: null, username: "system" });
  });

  it("documents the new routes in the OpenAPI document", async () => {
    t = await createTestApp(dialect);
    const doc = (await t.request({ method: "GET", url: "/api/openapi.json" })).json<{
      paths: Record<string, Record<string, { tags?: string[]; summary?: string; requestBody?: unknown; responses?: Record<string, unknown> }>>;
    }>();
    const routes = [
      ["/api/v1/users/{id}", "patch", "200"],
      ["/api/v1/users/{id}/password", "post", "204"],
      ["/api/v1/me/password", "post", "204"],
    ] as const;
    for (const [path, method, status] of routes) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(op?.tags).toEqual(["users"]);
      expect(op?.summary).toBeTruthy();
      expect(op?.requestBody).toBeDefined();
      expect(Object.keys(op?.responses ?? {})).toContain(status);
    }
    const listed = JSON.stringify(doc.paths["/api/v1/users"]?.["get"]?.responses);
    expect(listed).toContain("lastLoginAt");
    expect(listed).toContain("disabled");
  });
});
