import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../../test/support/dovecot.js";
import { mailboxSettings, testMessage, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { MemorySyncStore, syncOnce } from "../../../test/support/memory-sync-store.js";
import { MailSourceError, fixedCredential, type MailSourceSettings } from "../mail-source.js";
import { Pop3Client } from "./pop3-client.js";
import { Pop3Source } from "./pop3-source.js";

/**
 * What the POP3 connector does against Dovecot beyond the shared contract (mail-source-contract.ts):
 * UIDL keys over every kind of connection, keep mode, a crash's leftovers, the byte-stuffing of
 * POP3. Servers that misbehave are in pop3-source-failures.int.test.ts.
 */

let dovecot: Dovecot;

beforeAll(async () => {
  dovecot = await startDovecot({ tls: true });
});

afterAll(async () => {
  await dovecot?.stop();
});

function newMailbox(overrides: Partial<MailSourceSettings> = {}) {
  const user = uniqueUser("pop3");
  const password = `pw-${user}`;
  dovecot.addUser(user, password);
  const settings = mailboxSettings(dovecot, user, password, { port: dovecot.pop3Port, acknowledge: { mode: "delete" }, ...overrides });
  return { user, password, settings };
}

async function serverUidls(user: string, password: string): Promise<string[]> {
  const client = await Pop3Client.connect({ host: dovecot.host, port: dovecot.pop3Port, security: "none", allowInvalidCertificates: false, connectTimeoutMs: 5_000 });
  await client.login(user, password);
  const uidl = await client.uidl();
  await client.quit();
  return [...uidl.values()];
}

describe("POP3 sync", () => {
  for (const security of ["none", "starttls", "tls"] as const) {
    it(`takes the maildrop over ${security === "none" ? "plain POP3" : security}, keyed by UIDL`, async () => {
      const port = security === "tls" ? dovecot.pop3sPort! : dovecot.pop3Port;
      const { user, password, settings } = newMailbox({ security, port, allowInvalidCertificates: true, acknowledge: { mode: "keep" } });
      const raws = [testMessage(`one over ${security}`), testMessage(`two over ${security}`)];
      for (const raw of raws) await dovecot.append(user, raw);
      const uidls = await serverUidls(user, password);
      const store = new MemorySyncStore();

      const { report } = await syncOnce(new Pop3Source(settings), store);
      expect(report).toMatchObject({ fetched: 2, created: 2, acked: 2 });
      expect(store.committedTexts()).toEqual(raws);
      expect(store.committedMessages().map((m) => m.sourceKey)).toEqual(uidls);
      expect(store.committedMessages().every((m) => m.receivedAt === null && !m.truncated)).toBe(true);
      // POP3 keeps no cursor: what is known is what is stored
      expect(store.cursor).toBeNull();
    });
  }

  it("deletes what was stored before a crash and is still on the server, and settles what is gone", async () => {
    const { user, password, settings } = newMailbox();
    const raw = testMessage("stored, not deleted");
    await dovecot.append(user, raw);
    const [key] = await serverUidls(user, password);
    const store = new MemorySyncStore();
    // a previous run committed it and died before QUIT
    const left = { sourceKey: key!, raw: Buffer.from(raw), size: Buffer.byteLength(raw), truncated: false, receivedAt: null };
    // and one whose deletion went through, but whose recording did not
    const gone = { sourceKey: "gone-already", raw: Buffer.from("Subject: y\r\n\r\ny\r\n"), size: 16, truncated: false, receivedAt: null };
    await store.commit({ messages: [left, gone], skipped: [], cursor: null, epoch: "", reread: false, prepared: null });

    const { report } = await syncOnce(new Pop3Source(settings), store);
    expect(report).toMatchObject({ fetched: 0, created: 0, acked: 1 });
    expect(await dovecot.count(user)).toBe(0);
    expect(store.unacked.size).toBe(0);
    expect(store.commits).toHaveLength(1);
  });

  it("keeps mail on the server in keep mode and does not take it twice", async () => {
    const { user, settings } = newMailbox({ acknowledge: { mode: "keep" } });
    await dovecot.append(user, testMessage("kept"));
    const store = new MemorySyncStore();
    const src = new Pop3Source(settings);
    expect((await syncOnce(src, store)).report).toMatchObject({ fetched: 1, acked: 1 });
    expect(store.unacked.size).toBe(0);
    await dovecot.append(user, testMessage("kept too"));
    expect((await syncOnce(src, store)).report).toMatchObject({ fetched: 1, acked: 1 });
    expect((await syncOnce(src, store)).report).toMatchObject({ fetched: 0, acked: 0 });
    expect(await dovecot.count(user)).toBe(2);
    expect(store.commits).toHaveLength(2);
  });

  it("keeps a line that is a lone dot, 8-bit bytes and a missing final line break exactly", async () => {
    const { user, settings } = newMailbox();
    const raw = Buffer.concat([
      Buffer.from("Subject: dots\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"),
      Buffer.from(".leading dot\r\n..two dots\r\n.\r\nafter a lone dot ", "latin1"),
      Buffer.from([0xe4, 0xf6, 0xfc, 0xdf, 0x80, 0xff]),
      Buffer.from("\r\n"),
    ]);
    await dovecot.append(user, raw);
    const store = new MemorySyncStore();
    await syncOnce(new Pop3Source(settings), store);
    expect(store.committedMessages()[0]?.raw.equals(raw)).toBe(true);
  });

  it("reports a wrong password with the server's words", async () => {
    const { user, settings } = newMailbox({ credentials: fixedCredential({ method: "password", password: "wrong" }) });
    const err = await syncOnce(new Pop3Source(settings), new MemorySyncStore()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailSourceError);
    expect((err as MailSourceError).code).toBe("auth_failed");
    expect((err as MailSourceError).serverText).toBe("[AUTH] Authentication failed.");
    expect((err as MailSourceError).message).toBe(`The server refused the login for ${user}: [AUTH] Authentication failed.`);
  });

  it("refuses a self-signed certificate unless allowed", async () => {
    const { settings } = newMailbox({ security: "tls", port: dovecot.pop3sPort! });
    const err = await syncOnce(new Pop3Source(settings), new MemorySyncStore()).catch((e: unknown) => e);
    expect((err as MailSourceError).code).toBe("tls_error");
  });

  it("waits the full time, or until aborted", async () => {
    const { settings } = newMailbox();
    const src = new Pop3Source(settings);
    expect(await src.waitForChange(20, new AbortController().signal)).toBe("timeout");
    const ac = new AbortController();
    const waiting = src.waitForChange(60_000, ac.signal);
    ac.abort();
    expect(await waiting).toBe("aborted");
  });
});
