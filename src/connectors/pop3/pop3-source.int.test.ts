import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../../test/support/dovecot.js";
import { mailboxSettings, testMessage, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { MemorySyncContext } from "../../../test/support/memory-sync-context.js";
import { MailSourceError, type MailSourceSettings } from "../mail-source.js";
import { Pop3Client } from "./pop3-client.js";
import { Pop3Source } from "./pop3-source.js";

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

async function serverUidls(settings: MailSourceSettings): Promise<string[]> {
  const client = await Pop3Client.connect({ ...settings, security: "none", port: dovecot.pop3Port });
  await client.login(settings.login, (settings.credential as { password: string }).password);
  const uidl = await client.uidl();
  await client.quit();
  return [...uidl.values()];
}

describe("POP3 sync", () => {
  for (const security of ["none", "starttls", "tls"] as const) {
    it(`takes the maildrop over ${security === "none" ? "plain POP3" : security}, keyed by UIDL`, async () => {
      const port = security === "tls" ? dovecot.pop3sPort! : dovecot.pop3Port;
      const { user, settings } = newMailbox({ security, port, allowInvalidCertificates: true, acknowledge: { mode: "keep" } });
      const raws = [testMessage(`one over ${security}`), testMessage(`two over ${security}`)];
      for (const raw of raws) await dovecot.append(user, raw);
      const uidls = await serverUidls(settings);
      const ctx = new MemorySyncContext();

      const report = await new Pop3Source(settings).sync(ctx);
      expect(report).toEqual({ fetched: 2, acked: 2 });
      expect(ctx.committedTexts()).toEqual(raws);
      expect(ctx.committedMessages().map((m) => m.sourceKey)).toEqual(uidls);
      expect(ctx.committedMessages().every((m) => m.receivedAt === null && !m.truncated)).toBe(true);
    });
  }

  it("deletes only after the commit resolved, and the deletion takes effect with QUIT", async () => {
    const { user, settings } = newMailbox();
    await dovecot.append(user, testMessage("a"));
    await dovecot.append(user, testMessage("b"));
    const ctx = new MemorySyncContext();
    const held = ctx.holdNextCommit();

    const syncing = new Pop3Source(settings).sync(ctx);
    await held.reached;
    expect(await dovecot.count(user)).toBe(2);
    held.release();
    expect(await syncing).toEqual({ fetched: 2, acked: 2 });
    expect(await dovecot.count(user)).toBe(0);
    expect(ctx.unacked.size).toBe(0);
  });

  it("deletes nothing when the commit throws, and takes the same messages again", async () => {
    const { user, settings } = newMailbox();
    await dovecot.append(user, testMessage("retry me"));
    const ctx = new MemorySyncContext();
    ctx.failNextCommit(new Error("disk full"));
    const src = new Pop3Source(settings);

    await expect(src.sync(ctx)).rejects.toThrow("disk full");
    expect(await dovecot.count(user)).toBe(1);
    expect(await src.sync(ctx)).toEqual({ fetched: 1, acked: 1 });
    expect(ctx.committedTexts().map((t) => /Subject: (.*)/.exec(t)?.[1])).toEqual(["retry me"]);
    expect(await dovecot.count(user)).toBe(0);
  });

  it("deletes what was stored before a crash and is still on the server", async () => {
    const { user, settings } = newMailbox();
    await dovecot.append(user, testMessage("stored, not deleted"));
    const [key] = await serverUidls(settings);
    const ctx = new MemorySyncContext();
    // a previous run committed it and died before QUIT
    await ctx.commit([{ sourceKey: key!, raw: Buffer.from("x"), size: 1, truncated: false, receivedAt: null }]);
    // and one whose deletion went through, but whose markAcked did not
    await ctx.commit([{ sourceKey: "gone-already", raw: Buffer.from("y"), size: 1, truncated: false, receivedAt: null }]);

    const report = await new Pop3Source(settings).sync(ctx);
    expect(report).toEqual({ fetched: 0, acked: 2 });
    expect(await dovecot.count(user)).toBe(0);
    expect(ctx.unacked.size).toBe(0);
  });

  it("keeps mail on the server in keep mode and does not take it twice", async () => {
    const { user, settings } = newMailbox({ acknowledge: { mode: "keep" } });
    await dovecot.append(user, testMessage("kept"));
    const ctx = new MemorySyncContext();
    const src = new Pop3Source(settings);
    expect(await src.sync(ctx)).toEqual({ fetched: 1, acked: 1 });
    expect(ctx.unacked.size).toBe(0);
    await dovecot.append(user, testMessage("kept too"));
    expect(await src.sync(ctx)).toEqual({ fetched: 1, acked: 1 });
    expect(await dovecot.count(user)).toBe(2);
    expect(ctx.commits).toHaveLength(2);
  });

  it("fetches only the header block with TOP when a message is over the size limit", async () => {
    const { user, settings } = newMailbox();
    const big = testMessage("big", "y".repeat(4_000));
    await dovecot.append(user, big);
    const ctx = new MemorySyncContext({ maxMessageBytes: 1_000 });
    await new Pop3Source(settings).sync(ctx);
    const [msg] = ctx.committedMessages();
    expect(msg?.truncated).toBe(true);
    expect(msg?.size).toBe(Buffer.byteLength(big));
    expect(msg?.raw.toString()).toBe(big.slice(0, big.indexOf("\r\n\r\n") + 4));
  });

  it("keeps 8-bit bytes and lines starting with a dot exactly", async () => {
    const { user, settings } = newMailbox();
    const raw = Buffer.concat([
      Buffer.from("Subject: dots\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"),
      Buffer.from(".leading dot\r\n..two dots\r\n.\r\nafter a lone dot ", "latin1"),
      Buffer.from([0xe4, 0xf6, 0xfc, 0xdf, 0x80, 0xff]),
      Buffer.from("\r\n"),
    ]);
    await dovecot.append(user, raw);
    const ctx = new MemorySyncContext();
    await new Pop3Source(settings).sync(ctx);
    expect(ctx.committedMessages()[0]?.raw.equals(raw)).toBe(true);
  });

  it("reports a wrong password with the server's words", async () => {
    const { user, settings } = newMailbox({ credential: { method: "password", password: "wrong" } });
    const err = await new Pop3Source(settings).sync(new MemorySyncContext()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailSourceError);
    expect((err as MailSourceError).code).toBe("auth_failed");
    expect((err as MailSourceError).serverText).toBe("[AUTH] Authentication failed.");
    expect((err as MailSourceError).message).toBe(`The server refused the login for ${user}: [AUTH] Authentication failed.`);
  });

  it("refuses a self-signed certificate unless allowed", async () => {
    const { settings } = newMailbox({ security: "tls", port: dovecot.pop3sPort! });
    const err = await new Pop3Source(settings).sync(new MemorySyncContext()).catch((e: unknown) => e);
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
