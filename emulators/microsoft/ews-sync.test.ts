import { EventEmitter } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorContext } from "./context.js";
import { appToken, call, deliver, sampleMime, startTestEmulator, testSeed, type TestEmulator } from "./graph-test-support.js";
import { touchMessage } from "./graph-store.js";
import { basicFor, changesInOrder, ews, fault, messages, success, syncXml } from "./ews-test-support.js";

const PAGER = { id: "b1b1b1b1-0000-4000-8000-000000000001", mail: "pager@contoso.test" };
const CHANGER = { id: "b1b1b1b1-0000-4000-8000-000000000002", mail: "changer@contoso.test" };
const RESET = { id: "b1b1b1b1-0000-4000-8000-000000000003", mail: "reset@contoso.test" };

let t: TestEmulator;
let graph: string;

beforeAll(async () => {
  t = await startTestEmulator({ seed: testSeed([PAGER, CHANGER, RESET]) });
  graph = appToken(t.emulator);
});

afterAll(async () => {
  await t.close();
});

const sync = async (user: string, folder: string, max: number, state?: string) => {
  const r = await ews(t.emulator, syncXml(folder, max, state), { auth: basicFor(user) });
  expect(r.status).toBe(200);
  return r;
};

/** Syncs until IncludesLastItemInRange; every page's changes, and the last state. */
async function syncAll(user: string, folder: string, max: number, state?: string) {
  const pages: { kind: string; id: string }[][] = [];
  let current = state;
  for (;;) {
    const r = await sync(user, folder, max, current);
    const m = success(r, "SyncFolderItems");
    pages.push(changesInOrder(r));
    current = m.SyncState as string;
    if (m.IncludesLastItemInRange === "true") return { pages, state: current, last: r };
    expect(m.IncludesLastItemInRange).toBe("false");
  }
}

describe("SyncFolderItems", () => {
  it("first reports every item as created, oldest received first, in pages of MaxChangesReturned", async () => {
    const mimes = [0, 1, 2, 3, 4].map((i) => sampleMime(`Page ${i}`, { to: PAGER.mail, body: `Corps ${i} é` }));
    const ids: string[] = [];
    for (const mime of mimes) ids.push(await deliver(t.emulator, PAGER.mail, mime));

    const { pages, state, last } = await syncAll(PAGER.mail, "inbox", 2);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(ids.map((id) => ({ kind: "Create", id })));
    // the properties asked for, Size being the MIME's length in bytes
    const create = success(last, "SyncFolderItems").Changes.Create[0].Message[0];
    expect(create).toMatchObject({ Subject: "Page 4", IsRead: "false", Size: String(Buffer.byteLength(mimes[4] as string)) });
    expect(create.ItemId["@ChangeKey"]).toBe(t.emulator.state.messages.get(ids[4] as string)?.changeKey);
    expect(create.DateTimeReceived).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const nothing = await sync(PAGER.mail, "inbox", 2, state);
    expect(success(nothing, "SyncFolderItems")).toMatchObject({ IncludesLastItemInRange: "true" });
    expect(changesInOrder(nothing)).toEqual([]);
  });

  it("then reports what changed, in change order: creates, read flag changes, updates and deletes", async () => {
    const kept = await deliver(t.emulator, CHANGER.mail, sampleMime("Kept", { to: CHANGER.mail }));
    const read = await deliver(t.emulator, CHANGER.mail, sampleMime("Read", { to: CHANGER.mail }));
    const removed = await deliver(t.emulator, CHANGER.mail, sampleMime("Removed", { to: CHANGER.mail }));
    const edited = await deliver(t.emulator, CHANGER.mail, sampleMime("Edited", { to: CHANGER.mail }));
    const first = await syncAll(CHANGER.mail, "inbox", 10);
    expect(first.pages.flat()).toHaveLength(4);

    const patched = await call(t.emulator, "PATCH", `/v1.0/users/${CHANGER.id}/messages/${read}`, { token: graph, body: { isRead: true } });
    expect(patched.status).toBe(200);
    expect((await call(t.emulator, "DELETE", `/v1.0/users/${CHANGER.id}/messages/${removed}`, { token: graph })).status).toBe(204);
    // a change to something other than the read flag, which no API of the emulator makes yet: straight in the store
    const message = t.emulator.state.messages.get(edited);
    if (!message) throw new Error("no message");
    message.subject = "Edited again";
    touchMessage({ state: t.emulator.state, changes: new EventEmitter() } as unknown as EmulatorContext, message);
    const added = await deliver(t.emulator, CHANGER.mail, sampleMime("Added", { to: CHANGER.mail }));
    // created and removed between two syncs: reported nowhere
    const fleeting = await deliver(t.emulator, CHANGER.mail, sampleMime("Fleeting", { to: CHANGER.mail }));
    await call(t.emulator, "DELETE", `/v1.0/users/${CHANGER.id}/messages/${fleeting}`, { token: graph });

    const r = await sync(CHANGER.mail, "inbox", 10, first.state);
    expect(changesInOrder(r)).toEqual([
      { kind: "ReadFlagChange", id: read },
      { kind: "Delete", id: removed },
      { kind: "Update", id: edited },
      { kind: "Create", id: added },
    ]);
    const m = success(r, "SyncFolderItems");
    expect(m.Changes.ReadFlagChange[0]).toMatchObject({ IsRead: "true", ItemId: { "@Id": read, "@ChangeKey": patched.json.changeKey } });
    expect(m.Changes.Update[0].Message[0]).toMatchObject({ Subject: "Edited again" });
    expect(changesInOrder(r).some((c) => c.id === kept)).toBe(false);

    // one change at a time: the same changes, in the same order, over four answers
    const paged = await syncAll(CHANGER.mail, "inbox", 1, first.state);
    expect(paged.pages.flat()).toEqual(changesInOrder(r));
    expect(paged.pages.filter((p) => p.length > 0).every((p) => p.length === 1)).toBe(true);
  });

  it("refuses a SyncState that is not the emulator's, or is another folder's or user's, with ErrorInvalidSyncStateData", async () => {
    const inbox = (await syncAll(CHANGER.mail, "inbox", 512)).state;
    const sent = (await syncAll(CHANGER.mail, "sentitems", 512)).state;
    const tampered = Buffer.from(inbox, "base64");
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 2) ^ 1, tampered.length - 2);
    for (const [user, folder, state] of [
      [CHANGER.mail, "inbox", Buffer.from("not a sync state").toString("base64")],
      [CHANGER.mail, "inbox", tampered.toString("base64")],
      [CHANGER.mail, "inbox", sent],
      [PAGER.mail, "inbox", inbox],
    ] as const) {
      const [message] = messages(await sync(user, folder, 10, state), "SyncFolderItems");
      expect(message).toMatchObject({
        "@ResponseClass": "Error",
        ResponseCode: "ErrorInvalidSyncStateData",
        MessageText: "Synchronization state data is corrupt or otherwise invalid.",
      });
    }
  });

  it("POST /_emulator/ews/reset-sync makes the user's SyncStates invalid; a new first sync works", async () => {
    const id = await deliver(t.emulator, RESET.mail, sampleMime("Before reset", { to: RESET.mail }));
    const { state } = await syncAll(RESET.mail, "inbox", 10);
    const other = (await syncAll(CHANGER.mail, "inbox", 10)).state;
    const reset = await call(t.emulator, "POST", "/_emulator/ews/reset-sync", { body: { user: RESET.mail } });
    expect(reset.status).toBe(200);
    expect(messages(await sync(RESET.mail, "inbox", 10, state), "SyncFolderItems")[0].ResponseCode).toBe("ErrorInvalidSyncStateData");
    // another user's states are not touched
    expect(success(await sync(CHANGER.mail, "inbox", 10, other), "SyncFolderItems").ResponseCode).toBe("NoError");
    expect((await syncAll(RESET.mail, "inbox", 10)).pages.flat()).toEqual([{ kind: "Create", id }]);
  });

  it("answers MaxChangesReturned outside 1 to 512 with a schema fault, as the schema's type does", async () => {
    for (const max of [0, 513]) {
      const r = await ews(t.emulator, syncXml("inbox", max), { auth: basicFor(PAGER.mail) });
      expect(r.status).toBe(500);
      expect(fault(r).responseCode).toBe("ErrorSchemaValidation");
    }
  });
});
