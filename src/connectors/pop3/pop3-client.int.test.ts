import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../../test/support/dovecot.js";
import { testMessage, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { Pop3Client, Pop3CommandError, Pop3ConnectionError, type Pop3ConnectOptions } from "./pop3-client.js";

let dovecot: Dovecot;

beforeAll(async () => {
  dovecot = await startDovecot({ tls: true });
});

afterAll(async () => {
  await dovecot?.stop();
});

function newUser() {
  const user = uniqueUser("pop3c");
  const password = `pw-${user}`;
  dovecot.addUser(user, password);
  return { user, password };
}

const plain = (): Pop3ConnectOptions => ({
  host: dovecot.host,
  port: dovecot.pop3Port,
  security: "none",
  allowInvalidCertificates: false,
  connectTimeoutMs: 5_000,
});

describe("POP3 client against Dovecot", () => {
  it("lists, retrieves and reads headers with TOP", async () => {
    const { user, password } = newUser();
    const raws = [testMessage("first"), testMessage("second")];
    for (const raw of raws) await dovecot.append(user, raw);
    const client = await Pop3Client.connect(plain());
    expect(client.greeting).toMatch(/ready/i);
    await client.login(user, password);
    expect(await client.capa()).toContain("UIDL");
    expect(await client.stat()).toEqual({ count: 2, size: Buffer.byteLength(raws[0]!) + Buffer.byteLength(raws[1]!) });
    expect([...(await client.list()).entries()]).toEqual(raws.map((r, i) => [i + 1, Buffer.byteLength(r)]));
    const uidl = await client.uidl();
    expect(uidl.size).toBe(2);
    expect(new Set(uidl.values()).size).toBe(2);
    expect((await client.retr(2)).toString()).toBe(raws[1]);
    const head = (await client.top(1, 0)).toString();
    expect(head).toBe(raws[0]!.slice(0, raws[0]!.indexOf("\r\n\r\n") + 4));
    await client.noop();
    await client.quit();
  });

  it("reads the header block of a message with RETR, dropping its body, and reads on after it", async () => {
    const { user, password } = newUser();
    // over the parser's 256 KB head cap, one body line longer than it, and a body line that is a lone dot
    const big = testMessage("big", `${"z".repeat(300_000)}\r\n.\r\n${"line of the body\r\n".repeat(20_000)}`);
    const after = testMessage("after");
    await dovecot.append(user, big);
    await dovecot.append(user, after);
    const client = await Pop3Client.connect(plain());
    await client.login(user, password);
    expect((await client.retrHead(1)).toString()).toBe(big.slice(0, big.indexOf("\r\n\r\n") + 4));
    expect((await client.retr(2)).toString()).toBe(after);
    const missing = await client.retrHead(9).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Pop3CommandError);
    expect((missing as Pop3CommandError).command).toBe("RETR");
    expect(client.usable).toBe(true);
    await client.quit();
    expect(await dovecot.count(user)).toBe(2);
  });

  it("deletes only on a clean QUIT", async () => {
    const { user, password } = newUser();
    await dovecot.append(user, testMessage("keep me"));

    const dropped = await Pop3Client.connect(plain());
    await dropped.login(user, password);
    await dropped.dele(1);
    dropped.close();
    expect(await dovecot.count(user)).toBe(1);

    const reset = await Pop3Client.connect(plain());
    await reset.login(user, password);
    await reset.dele(1);
    await reset.rset();
    await reset.quit();
    expect(await dovecot.count(user)).toBe(1);

    const quitting = await Pop3Client.connect(plain());
    await quitting.login(user, password);
    await quitting.dele(1);
    expect(await dovecot.count(user)).toBe(1);
    await quitting.quit();
    expect(await dovecot.count(user)).toBe(0);
  });

  it("upgrades with STLS and speaks TLS on the pop3s port", async () => {
    const { user, password } = newUser();
    const starttls = await Pop3Client.connect({ ...plain(), security: "starttls", allowInvalidCertificates: true });
    expect(starttls.tlsProtocol).toMatch(/^TLS/);
    await starttls.login(user, password);
    expect((await starttls.stat()).count).toBe(0);
    await starttls.quit();

    const implicit = await Pop3Client.connect({ ...plain(), port: dovecot.pop3sPort!, security: "tls", allowInvalidCertificates: true });
    expect(implicit.tlsProtocol).toMatch(/^TLS/);
    await implicit.login(user, password);
    await implicit.quit();
  });

  it("answers a wrong password with the server's code", async () => {
    const { user } = newUser();
    const client = await Pop3Client.connect(plain());
    const err = await client.login(user, "wrong").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Pop3CommandError);
    expect((err as Pop3CommandError).responseCode).toBe("AUTH");
    expect((err as Pop3CommandError).serverText).toBe("[AUTH] Authentication failed.");
    client.close();
  });

  it("gives up on a server that stops answering", async () => {
    const { user, password } = newUser();
    const client = await Pop3Client.connect({ ...plain(), commandTimeoutMs: 300 });
    await client.login(user, password);
    const resume = await dovecot.pauseSessions(user);
    try {
      const err = await client.stat().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Pop3ConnectionError);
      expect((err as Pop3ConnectionError).code).toBe("ETIMEOUT");
      expect(client.usable).toBe(false);
    } finally {
      resume();
      client.close();
    }
  });

  it("reports -ERR for a message that does not exist and stays usable", async () => {
    const { user, password } = newUser();
    const client = await Pop3Client.connect(plain());
    await client.login(user, password);
    await expect(client.retr(7)).rejects.toBeInstanceOf(Pop3CommandError);
    expect(client.usable).toBe(true);
    await client.quit();
  });
});
