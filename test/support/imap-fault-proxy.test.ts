import net from "node:net";
import type { ImapFlow } from "imapflow";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bareClient } from "./bare-imap-client.js";
import { startDovecot, type Dovecot } from "./dovecot.js";
import { startImapFaultProxy, type ImapFaultProxy } from "./imap-fault-proxy.js";
import { eventually, testMessage, uniqueUser } from "./mail-fixtures.js";

const SERVERBUG = "NO [SERVERBUG] Internal error occurred. Refer to server log for more information.";

describe("IMAP fault proxy in front of Dovecot", () => {
  let dovecot: Dovecot;
  let proxy: ImapFaultProxy;
  const clients: ImapFlow[] = [];

  beforeAll(async () => {
    dovecot = await startDovecot();
  });

  afterAll(async () => {
    await dovecot?.stop();
  });

  beforeEach(async () => {
    proxy = await startImapFaultProxy({ targetHost: dovecot.host, targetPort: dovecot.imapPort });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.logout().catch(() => client.close());
    await proxy.stop();
  });

  async function mailbox(raws: string[]): Promise<{ user: string; password: string; uids: [number, number, number] }> {
    const user = uniqueUser("proxy");
    const password = `pw-${user}`;
    dovecot.addUser(user, password);
    const uids: number[] = [];
    for (const raw of raws) uids.push(await dovecot.append(user, raw));
    const [a = 0, b = 0, c = 0] = uids;
    return { user, password, uids: [a, b, c] };
  }

  async function through(user: string, password: string): Promise<ImapFlow> {
    const client = bareClient(proxy.port, user, password);
    clients.push(client);
    await client.connect();
    await client.mailboxOpen("INBOX");
    return client;
  }

  async function source(client: ImapFlow, uid: number): Promise<string | undefined> {
    const message = await client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
    return message ? message.source?.toString() : undefined;
  }

  it("passes a session through unchanged: search, fetch, store and IDLE", async () => {
    const dotted = "From: a@example.test\r\nSubject: dots\r\n\r\n.leading dot\r\n.\r\nété {5}\r\n";
    const { user, password, uids } = await mailbox([testMessage("one"), dotted, testMessage("three")]);
    const client = await through(user, password);
    expect(await client.search({ all: true }, { uid: true })).toEqual(uids);
    const fetched = await client.fetchAll("1:*", { uid: true, source: true }, { uid: true });
    expect(fetched.map((m) => [m.uid, m.source])).toEqual([...(await dovecot.sources(user)).entries()]);
    expect(await client.messageFlagsAdd(String(uids[0]), ["\\Seen"], { uid: true })).toBe(true);
    expect((await dovecot.flags(user)).get(uids[0])).toEqual(["\\Seen"]);

    const exists = new Promise<void>((resolve) => client.once("exists", () => resolve()));
    const idling = client.idle();
    await eventually(async () => proxy.log.some((line) => / IDLE$/.test(line)));
    const added = await dovecot.append(user, testMessage("while idling"));
    await exists;
    // the next command ends the IDLE with DONE
    expect(await source(client, added)).toMatch(/Subject: while idling/);
    await idling;
    expect(proxy.log).toContain("DONE");

    const logged = proxy.log.join("\n");
    expect(logged).toMatch(/ (LOGIN|AUTHENTICATE PLAIN)/);
    expect(logged).not.toContain(password);
    expect(logged).not.toContain(Buffer.from(`\0${user}\0${password}`).toString("base64"));
  });

  it("answers a content fetch of a faulted UID with the server's NO, and the connection goes on", async () => {
    const raws = [testMessage("a"), testMessage("b"), testMessage("c")];
    const { user, password, uids } = await mailbox(raws);
    const [a, b, c] = uids;
    proxy.faults.failFetchOf.add(b);
    const client = await through(user, password);

    const failed = await client.fetchOne(String(b), { uid: true, source: true }, { uid: true }).catch((err: unknown) => err);
    expect(failed).toMatchObject({ responseStatus: "NO", responseText: expect.stringContaining("Internal error occurred. Refer to server log") });
    expect(await source(client, a)).toBe(raws[0]);
    // no content asked for: the command reaches Dovecot
    expect(await client.fetchOne(String(b), { uid: true, flags: true }, { uid: true })).toMatchObject({ uid: b });
    for (const range of [`${a}:${c}`, `${a},${b}`, `${c}:${a}`, `${a}:*`]) {
      await expect(client.fetchAll(range, { uid: true, source: true }, { uid: true }), range).rejects.toMatchObject({ responseStatus: "NO" });
    }
    expect((await client.fetchAll(`${c}:*`, { uid: true, source: true }, { uid: true })).map((m) => m.uid)).toEqual([c]);
    expect(proxy.log.filter((line) => line.includes(`UID FETCH ${b} `))).toHaveLength(2);

    proxy.faults.failFetchOf.clear();
    expect(await source(client, b)).toBe(raws[1]);
  });

  it("closes the connection on a fetch of a UID set to drop", async () => {
    const raws = [testMessage("a"), testMessage("b"), testMessage("c")];
    const { user, password, uids } = await mailbox(raws);
    proxy.faults.dropOnFetchOf.add(uids[1]);
    const client = await through(user, password);
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    await expect(client.fetchAll(`${uids[0]}:${uids[2]}`, { uid: true, source: true }, { uid: true })).rejects.toThrow();
    await closed;
    expect(client.usable).toBe(false);

    const again = await through(user, password);
    expect(await source(again, uids[0])).toBe(raws[0]);
  });

  it("refuses to store \\Seen: the message stays unseen and the connection usable", async () => {
    const raws = [testMessage("a"), testMessage("b"), testMessage("c")];
    const { user, password, uids } = await mailbox(raws);
    const [a] = uids;
    proxy.faults.failStoreSeen = true;
    const client = await through(user, password);

    expect(await client.messageFlagsAdd(String(a), ["\\Seen"], { uid: true })).toBe(false);
    expect(proxy.log.some((line) => new RegExp(`UID STORE ${a} \\+FLAGS(\\.SILENT)? \\(\\\\Seen\\)`).test(line))).toBe(true);
    expect((await dovecot.flags(user)).get(a)).toEqual([]);
    expect(await client.messageFlagsAdd(String(a), ["\\Flagged"], { uid: true })).toBe(true);
    expect((await dovecot.flags(user)).get(a)).toEqual(["\\Flagged"]);
    expect(await source(client, a)).toBe(raws[0]);

    proxy.faults.failStoreSeen = false;
    expect(await client.messageFlagsAdd(String(a), ["\\Seen"], { uid: true })).toBe(true);
    expect((await dovecot.flags(user)).get(a)).toEqual(["\\Flagged", "\\Seen"]);
  });
});

/** The bytes one end of a connection received, and a way to wait for more. */
class Received {
  text = "";
  private waiters: { expected: string; resolve: () => void }[] = [];

  add(chunk: Buffer): void {
    this.text += chunk.toString("latin1");
    this.waiters = this.waiters.filter((waiter) => {
      if (!this.text.includes(waiter.expected)) return true;
      waiter.resolve();
      return false;
    });
  }

  until(expected: string): Promise<void> {
    if (this.text.includes(expected)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ expected, resolve }));
  }
}

/**
 * Exact byte order, which Dovecot's timing cannot pin down, against a stand-in server whose every
 * byte the test writes.
 */
describe("IMAP fault proxy framing", () => {
  let standIn: net.Server;
  /** the stand-in's end of the one connection a test opens, and what it received */
  let serverSide: Promise<{ server: net.Socket; serverReceived: Received }>;
  let proxy: ImapFaultProxy;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    let accepted: (side: { server: net.Socket; serverReceived: Received }) => void = () => {};
    serverSide = new Promise((resolve) => (accepted = resolve));
    standIn = net.createServer((server) => {
      sockets.push(server);
      const serverReceived = new Received();
      server.on("data", (chunk: Buffer) => serverReceived.add(chunk));
      server.on("error", () => {});
      server.write("* OK stand-in ready\r\n");
      accepted({ server, serverReceived });
    });
    await new Promise<void>((resolve) => standIn.listen(0, "127.0.0.1", resolve));
    const address = standIn.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    proxy = await startImapFaultProxy({ targetHost: "127.0.0.1", targetPort: address.port });
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await proxy.stop();
    await new Promise<void>((resolve) => standIn.close(() => resolve()));
  });

  async function rawClient(): Promise<{ socket: net.Socket; received: Received; server: net.Socket; serverReceived: Received }> {
    const socket = net.connect(proxy.port, proxy.host);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    sockets.push(socket);
    const received = new Received();
    socket.on("data", (chunk: Buffer) => received.add(chunk));
    await received.until("* OK stand-in ready\r\n");
    return { socket, received, ...(await serverSide) };
  }

  it("passes commands on byte for byte however they arrive, literals included, and swallows faulted ones", async () => {
    proxy.faults.failFetchOf.add(7);
    const { socket, received, server, serverReceived } = await rawClient();
    // literal data that looks like a faulted command is data all the same
    const lookalike = "b9 UID FETCH 7 BODY.PEEK[]\r\n";
    const burst = [
      "a0 LOGIN someone secret\r\n",
      "a1 NOOP\r\n",
      "a2 UID FETCH 7 BODY[]\r\n",
      `a3 APPEND INBOX {${lookalike.length}+}\r\n${lookalike}\r\n`,
      "a4 UID FETCH 1:6,8:* (UID BODY.PEEK[HEADER])\r\n",
      // `*` alone may be any UID; a range counts the same either way round
      "b1 UID FETCH * RFC822\r\n",
      "b2 UID FETCH 9:3 BINARY.PEEK[1]\r\n",
      // no content asked for
      "b3 UID FETCH 1:* (FLAGS RFC822.SIZE BODYSTRUCTURE)\r\n",
    ].join("");
    socket.write(burst);
    await received.until(`b2 ${SERVERBUG}\r\n`);
    const split = "a5 UID FETCH 8 BODY.PEEK[]\r\n";
    for (const byte of split) socket.write(byte);
    await serverReceived.until(split);

    socket.write(`a6 APPEND INBOX {${lookalike.length}}\r\n`);
    await serverReceived.until(`a6 APPEND INBOX {${lookalike.length}}\r\n`);
    server.write("+ go ahead\r\n");
    await received.until("+ go ahead\r\n");
    socket.write(`${lookalike}\r\n`);
    // a faulted command with a synchronising literal gets its go-ahead from the proxy
    socket.write("a8 UID FETCH 7 (BODY.PEEK[HEADER.FIELDS ({4}\r\n");
    await received.until("+ Ready for literal data\r\n");
    socket.write("DATE)])\r\n");
    await received.until(`a8 ${SERVERBUG}\r\n`);
    socket.write("a9 NOOP\r\n");
    await serverReceived.until("a9 NOOP\r\n");

    expect(serverReceived.text).toBe(
      [
        "a0 LOGIN someone secret\r\n",
        "a1 NOOP\r\n",
        `a3 APPEND INBOX {${lookalike.length}+}\r\n${lookalike}\r\n`,
        "a4 UID FETCH 1:6,8:* (UID BODY.PEEK[HEADER])\r\n",
        "b3 UID FETCH 1:* (FLAGS RFC822.SIZE BODYSTRUCTURE)\r\n",
        split,
        `a6 APPEND INBOX {${lookalike.length}}\r\n${lookalike}\r\n`,
        "a9 NOOP\r\n",
      ].join(""),
    );
    expect(received.text).toBe(
      [
        "* OK stand-in ready\r\n",
        `a2 ${SERVERBUG}\r\n`,
        `b1 ${SERVERBUG}\r\n`,
        `b2 ${SERVERBUG}\r\n`,
        "+ go ahead\r\n",         "+ Ready for literal data\r\n",
        `a8 ${SERVERBUG}\r\n`,
      ].join(""),
    );
    expect(proxy.log).toEqual([
      "a0 LOGIN ***",
      "a1 NOOP",
      "a2 UID FETCH 7 BODY[]",
      `a3 APPEND INBOX {${lookalike.length}+}`,
      "a4 UID FETCH 1:6,8:* (UID BODY.PEEK[HEADER])",
      "b1 UID FETCH * RFC822",
      "b2 UID FETCH 9:3 BINARY.PEEK[1]",
      "b3 UID FETCH 1:* (FLAGS RFC822.SIZE BODYSTRUCTURE)",
      split.trimEnd(),
      `a6 APPEND INBOX {${lookalike.length}}`,
      "a8 UID FETCH 7 (BODY.PEEK[HEADER.FIELDS ({4}",
      "a9 NOOP",
    ]);
  });

  it("holds an injected answer until the server's response in progress has ended", async () => {
    proxy.faults.failFetchOf.add(7);
    const { socket, received, server, serverReceived } = await rawClient();
    socket.write("a1 UID FETCH 5 BODY[]\r\n");
    await serverReceived.until("a1 UID FETCH 5 BODY[]\r\n");
    // the literal holds line ends of its own: none of them is a place to answer
    server.write("* 1 FETCH (UID 5 BODY[] {10}\r\nab\r\nc");
    await received.until("ab\r\nc");
    socket.write("a2 UID FETCH 7 BODY[]\r\n");
    await eventually(async () => proxy.log.includes("a2 UID FETCH 7 BODY[]"));
    server.write("d\r\nef)\r\n* 2 EXISTS\r\na1 OK done\r\n");
    await received.until("a1 OK done\r\n");

    expect(received.text).toBe(
      ["* OK stand-in ready\r\n", "* 1 FETCH (UID 5 BODY[] {10}\r\nab\r\ncd\r\nef)\r\n", `a2 ${SERVERBUG}\r\n`, "* 2 EXISTS\r\n", "a1 OK done\r\n"].join(""),
    );
    expect(serverReceived.text).toBe("a1 UID FETCH 5 BODY[]\r\n");
  });

  it("drops both connections on a fetch set to drop", async () => {
    proxy.faults.dropOnFetchOf.add(3);
    const { socket, server } = await rawClient();
    const clientClosed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    const serverClosed = new Promise<void>((resolve) => server.once("close", () => resolve()));
    socket.write("a1 UID FETCH 1:* (FLAGS RFC822)\r\n");
    await Promise.all([clientClosed, serverClosed]);
  });
});
