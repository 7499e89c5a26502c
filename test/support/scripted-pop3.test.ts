import net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Pop3Client, Pop3CommandError, Pop3ConnectionError } from "../../src/connectors/pop3/pop3-client.js";
import { testMessage } from "./mail-fixtures.js";
import { startScriptedPop3, type ScriptedPop3 } from "./scripted-pop3.js";

let pop3: ScriptedPop3;
const clients: Pop3Client[] = [];

beforeEach(async () => {
  pop3 = await startScriptedPop3();
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await pop3.stop();
});

async function connect(): Promise<Pop3Client> {
  const client = await Pop3Client.connect({ host: pop3.host, port: pop3.port, security: "none", allowInvalidCertificates: false, connectTimeoutMs: 5_000 });
  clients.push(client);
  return client;
}

async function session(): Promise<Pop3Client> {
  const client = await connect();
  await client.login(pop3.user, pop3.password);
  return client;
}

/** What a command the server refused carries: its words and its RFC 2449 code. */
async function refusal(promise: Promise<unknown>): Promise<Pop3CommandError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof Pop3CommandError)) throw new Error(`expected -ERR, got ${String(err)}`);
  return err;
}

// dots at line starts (one a lone "." that would end the response), 8-bit bytes, no final line break
const tricky = Buffer.concat([
  Buffer.from("From: a@example.test\r\nSubject: dots\r\n\r\n.leading dot\r\n.\r\n..two\r\nmiddle\r\n"),
  Buffer.from([0xe9, 0x74, 0xe9, 0x0d, 0x0a]),
  Buffer.from("last line without a break"),
]);

describe("scripted POP3 maildrop", () => {
  it("lists and retrieves the exact bytes, lines beginning with a dot included", async () => {
    const plain = testMessage("plain");
    pop3.maildrop.add(plain, "uid-plain");
    pop3.maildrop.add(tricky, "uid-tricky");
    const client = await session();
    expect(await client.capa()).toEqual(expect.arrayContaining(["TOP", "UIDL", "USER"]));
    expect(await client.stat()).toEqual({ count: 2, size: Buffer.byteLength(plain) + tricky.length });
    expect([...(await client.list()).entries()]).toEqual([
      [1, Buffer.byteLength(plain)],
      [2, tricky.length],
    ]);
    expect([...(await client.uidl()).entries()]).toEqual([
      [1, "uid-plain"],
      [2, "uid-tricky"],
    ]);
    expect((await client.retr(1)).toString()).toBe(plain);
    // only the CRLF the protocol needs before its terminator is added
    expect(await client.retr(2)).toEqual(Buffer.concat([tricky, Buffer.from("\r\n")]));
    expect((await client.top(2, 0)).toString()).toBe("From: a@example.test\r\nSubject: dots\r\n\r\n");
    expect((await client.top(2, 2)).toString()).toBe("From: a@example.test\r\nSubject: dots\r\n\r\n.leading dot\r\n.\r\n");
    await client.quit();
    expect(pop3.maildrop.count).toBe(2);
  });

  it("sends the dot-stuffed wire form", async () => {
    pop3.maildrop.add("Subject: x\r\n\r\n.\r\n.a\r\n");
    const wire = await rawExchange(pop3, [`USER ${pop3.user}`, `PASS ${pop3.password}`, "RETR 1", "QUIT"]);
    expect(wire).toContain("+OK 21 octets\r\nSubject: x\r\n\r\n..\r\n..a\r\n.\r\n+OK bye\r\n");
  });

  it("lists duplicate UIDLs as they are, and a UIDL may come back after its message was deleted", async () => {
    pop3.maildrop.add(testMessage("one"), "same");
    pop3.maildrop.add(testMessage("two"), "same");
    pop3.maildrop.add(testMessage("three"));
    const first = await session();
    const listed = await first.uidl();
    expect(listed.get(1)).toBe("same");
    expect(listed.get(2)).toBe("same");
    expect(listed.get(3)).not.toBe("same");
    await first.dele(1);
    await first.quit();
    expect(pop3.maildrop.list().map((m) => m.uidl)).toEqual(["same", listed.get(3)]);

    const reused = testMessage("reused");
    pop3.maildrop.add(reused, "same");
    const second = await session();
    expect([...(await second.uidl()).values()]).toEqual(["same", listed.get(3), "same"]);
    expect((await second.retr(3)).toString()).toBe(reused);
    await second.quit();
  });

  it("removes what DELE marked only at QUIT, and a deleted message is gone for the session", async () => {
    const raws = [testMessage("keep"), testMessage("delete me"), testMessage("keep too")];
    for (const raw of raws) pop3.maildrop.add(raw);

    const dropped = await session();
    await dropped.dele(2);
    dropped.close();
    await pop3.allClosed();
    const reset = await session();
    await reset.dele(2);
    await reset.rset();
    await reset.quit();
    expect(pop3.maildrop.count).toBe(3);
    expect(pop3.deleted()).toEqual([]);

    const client = await session();
    await client.dele(2);
    expect((await refusal(client.retr(2))).serverText).toMatch(/deleted/);
    expect((await refusal(client.dele(2))).serverText).toMatch(/deleted/);
    expect([...(await client.list()).keys()]).toEqual([1, 3]);
    expect(await client.stat()).toEqual({ count: 2, size: Buffer.byteLength(raws[0]!) + Buffer.byteLength(raws[2]!) });
    expect(pop3.maildrop.count).toBe(3);
    await client.quit();
    expect(pop3.maildrop.list().map((m) => m.raw.toString())).toEqual([raws[0], raws[2]]);
    expect(pop3.deleted().map((raw) => raw.toString())).toEqual([raws[1]]);
    expect(pop3.log.filter((line) => line.startsWith("DELE"))).toEqual(["DELE 2", "DELE 2", "DELE 2", "DELE 2"]);
    expect(pop3.log).not.toContain("DELE 1");
  });

  it("keeps message numbers for the session: a message added meanwhile waits for the next one", async () => {
    pop3.maildrop.add(testMessage("before"));
    const client = await session();
    pop3.maildrop.add(testMessage("during"));
    expect((await client.stat()).count).toBe(1);
    await client.quit();
    const next = await session();
    expect((await next.stat()).count).toBe(2);
  });

  it("refuses a wrong password with [AUTH] and never logs a password", async () => {
    const client = await connect();
    const err = await refusal(client.login(pop3.user, "wrong"));
    expect(err.responseCode).toBe("AUTH");
    await client.login(pop3.user, pop3.password);
    expect(pop3.log).toEqual([`USER ${pop3.user}`, "PASS ***", `USER ${pop3.user}`, "PASS ***"]);
  });

  it("without TOP: the command is unknown and CAPA does not offer it", async () => {
    pop3.script.top = false;
    pop3.maildrop.add(testMessage("no top"));
    const client = await session();
    expect(await client.capa()).not.toContain("TOP");
    expect((await refusal(client.top(1, 0))).serverText).toBe("unknown command");
    pop3.script.top = true;
    expect(await client.capa()).toContain("TOP");
  });

  it("answers RETR of a chosen message with -ERR, and the session goes on", async () => {
    pop3.maildrop.add(testMessage("fine"), "ok-1");
    pop3.maildrop.add(testMessage("broken"), "bad-1");
    pop3.script.retrError = (uidl) => (uidl === "bad-1" ? "[SYS/TEMP] cannot read the message" : null);
    const client = await session();
    const err = await refusal(client.retr(2));
    expect(err.serverText).toBe("[SYS/TEMP] cannot read the message");
    expect(err.responseCode).toBe("SYS/TEMP");
    expect((await client.retr(1)).toString()).toMatch(/Subject: fine/);
  });

  it("hangs up instead of answering RETR of a chosen message, deleting nothing", async () => {
    pop3.maildrop.add(testMessage("first"), "a");
    pop3.maildrop.add(testMessage("second"), "b");
    pop3.script.dropOnRetr = (uidl) => uidl === "b";
    const client = await session();
    await client.retr(1);
    await client.dele(1);
    const err: unknown = await client.retr(2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Pop3ConnectionError);
    expect((err as Pop3ConnectionError).code).toBe("ECLOSED");
    expect(client.usable).toBe(false);
    expect(pop3.maildrop.count).toBe(2);
    // the lock went with the connection
    const next = await session();
    expect((await next.stat()).count).toBe(2);
  });

  it("fails QUIT when told to, and then deletes nothing", async () => {
    pop3.maildrop.add(testMessage("stays"));
    pop3.script.quitError = true;
    const client = await session();
    await client.dele(1);
    expect((await refusal(client.quit())).command).toBe("QUIT");
    expect(pop3.maildrop.count).toBe(1);
    expect(pop3.deleted()).toEqual([]);
  });

  it("locks the maildrop: a second session meanwhile gets [IN-USE]", async () => {
    pop3.maildrop.add(testMessage("locked"));
    const first = await session();
    const second = await connect();
    const err = await refusal(second.login(pop3.user, pop3.password));
    expect(err.responseCode).toBe("IN-USE");
    await first.quit();
    await second.login(pop3.user, pop3.password);
    expect((await second.stat()).count).toBe(1);
  });
});

/** Sends the lines one by one, each after the previous answer, and returns everything the server said. */
function rawExchange(server: ScriptedPop3, lines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, server.host);
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const line = lines.shift();
      if (line !== undefined) socket.write(`${line}\r\n`);
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
  });
}
