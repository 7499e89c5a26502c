import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generateCorpus } from "../../bench/corpus.js";
import { parseMail } from "./parse-mail.js";
import { createParser, type Parser } from "./parser-pool.js";
import type { IngestContext, ParsedMail } from "./types.js";

const ctx: IngestContext = { maxSizeBytes: 5 * 1024 * 1024, ownAddresses: new Set(["support@company.example"]) };
const misbehaving = new URL("../../test/support/misbehaving-parser-worker.ts", import.meta.url);
const input = (raw: Buffer) => ({ raw, size: raw.length, truncated: false });
const eml = (...lines: string[]) => Buffer.from(lines.join("\r\n"), "utf8");
/** HTML, so that a worker parses it (one plain-text part is read on the calling thread) */
const pooled = (subject: string, ...extra: string[]) =>
  eml("From: a@x.example", `Subject: ${subject}`, "Content-Type: text/html; charset=utf-8", ...extra, "", `<p>body of ${subject}</p>`);
const plain = (subject: string, ...extra: string[]) => eml("From: a@x.example", `Subject: ${subject}`, ...extra, "", `body of ${subject}`);

/** attachment bytes as digests: a deep comparison of megabytes byte by byte takes the test's whole budget */
const comparable = (mail: ParsedMail) => ({
  ...mail,
  attachments: mail.attachments.map((a) => ({ ...a, content: createHash("sha256").update(a.content).digest("hex"), isBuffer: Buffer.isBuffer(a.content) })),
});

let parser: Parser | null = null;
afterEach(async () => {
  await parser?.close();
  parser = null;
});

describe("createParser", () => {
  it("starts one worker, and another only while messages wait for one", async () => {
    parser = createParser({ workers: 2 });
    expect(parser.workerCount()).toBe(1);
    const html = (i: number) => eml(`From: a${i}@x.example`, `Subject: ${i}`, "Content-Type: text/html", "", `<p>${"word ".repeat(200)}${i}</p>`);
    await parser.parse(input(html(0)), ctx, { urgent: true });
    // one message at a time never waits: still one worker
    expect(parser.workerCount()).toBe(1);
    await Promise.all(Array.from({ length: 300 }, (_, i) => parser!.parse(input(html(i + 1)), ctx)));
    expect(parser.workerCount()).toBe(2);
  });

  it("parses in worker processes with results equal to parsing in-process", async () => {
    parser = createParser({ workers: 2 });
    const messages = [
      ...[...generateCorpus({ count: 40, seed: 11 })].map((m) => m.raw),
      Buffer.alloc(0),
      Buffer.from([0, 1, 2, 3]),
      eml("From: a@x.example", "Content-Type: text/html", "", "<p onclick=x>hi</p>"),
    ];
    const pooled = await Promise.all(messages.map((raw) => parser!.parse(input(raw), ctx)));
    const local = await Promise.all(messages.map((raw) => parseMail(input(raw), ctx)));
    expect(pooled.map(comparable)).toEqual(local.map(comparable));
    expect(pooled.some((mail) => mail.attachments.length > 0)).toBe(true);
  });

  it("leaves the caller's buffer intact (it is still needed to store the raw message)", async () => {
    parser = createParser({ workers: 1 });
    const raw = pooled("kept");
    const copy = Buffer.from(raw);
    await parser.parse(input(raw), ctx);
    expect(raw.equals(copy)).toBe(true);
  });

  it("reads one plain-text part on the calling thread, as a worker would: a pool whose workers cannot start still answers it", async () => {
    parser = createParser({ workers: 1, workerUrl: new URL("./no-such-worker.js", import.meta.url) });
    const raws = [plain("inline"), ...[...generateCorpus({ count: 30, seed: 5, name: "small-text" })].map((m) => m.raw)];
    const inline: ParsedMail[] = [];
    for (const raw of raws) {
      const parsed = await parser.parse(input(raw), ctx).catch(() => null);
      if (parsed) expect(parsed).toEqual(await parseMail(input(raw), ctx));
      if (parsed) inline.push(parsed);
    }
    expect(inline[0]?.subject).toBe("inline");
    // most of this corpus is one plain-text part; the rest needed the workers that never started
    expect(inline.length).toBeGreaterThan(15);
    expect(inline.length).toBeLessThan(raws.length);
  });

  it("reads the backlog's plain text a slice at a time, seeing to other work between slices, and new mail at once", async () => {
    parser = createParser({ workers: 1 });
    const done: string[] = [];
    const backlog = Array.from({ length: 1_000 }, (_, i) => parser!.parse(input(plain(`backlog ${i}`)), ctx).then((m) => done.push(m.subject)));
    // queued behind the first slice: it runs once that slice gives the thread back
    let readBefore = -1;
    setImmediate(() => (readBefore = done.length));
    const urgent = parser.parse(input(plain("new mail")), ctx, { urgent: true }).then((m) => done.push(m.subject));
    await Promise.all([...backlog, urgent]);
    expect(done[0]).toBe("new mail");
    expect(readBefore).toBeGreaterThan(0);
    expect(readBefore).toBeLessThan(1_000);
    expect(done.slice(1)).toEqual(Array.from({ length: 1_000 }, (_, i) => `backlog ${i}`));
  });

  it("parses in-process with workers: 0", async () => {
    parser = createParser({ workers: 0 });
    const raw = pooled("in process");
    expect(await parser.parse(input(raw), ctx)).toEqual(await parseMail(input(raw), ctx));
  });

  it("survives a message that kills its worker: it becomes unparsable, the others parse, the worker is replaced", async () => {
    parser = createParser({ workers: 1, workerUrl: misbehaving });
    const killer = pooled("killer", "X-Test-Exit: always", "Message-ID: <killer@x.example>");
    const [before, killed, after] = await Promise.all([
      parser.parse(input(pooled("before")), ctx),
      parser.parse(input(killer), ctx),
      parser.parse(input(pooled("after")), ctx),
    ]);
    expect(before.subject).toBe("before");
    expect(after.subject).toBe("after");
    expect(killed.flags.wrapped).toBe("unparsable");
    expect(killed.text).toMatch(/stopped the parser/);
    expect(killed.messageId).toBe("killer@x.example");
    expect(killed.subject).toBe("killer");
    expect(killed.attachments.map((a) => a.filename)).toEqual(["original.eml"]);
    expect(killed.attachments[0]!.content.equals(killer)).toBe(true);
    expect((await parser.parse(input(pooled("later")), ctx)).subject).toBe("later");
  });

  it("blames only the message a worker was parsing when it died, not those handed to it to parse next", async () => {
    parser = createParser({ workers: 1, workerUrl: misbehaving });
    const subjects = ["first", "second", "third", "fourth"];
    const killer = pooled("killer", "X-Test-Exit: always");
    // the killer is parsed second, on two workers in turn, each time with the others queued behind it
    const results = await Promise.all([pooled("first"), killer, ...subjects.slice(1).map((s) => pooled(s))].map((raw) => parser!.parse(input(raw), ctx)));
    expect(results.map((m) => [m.subject, m.flags.wrapped])).toEqual([
      ["first", null],
      ["killer", "unparsable"],
      ["second", null],
      ["third", null],
      ["fourth", null],
    ]);
  });

  it("survives an uncaught error in the worker the same way", async () => {
    parser = createParser({ workers: 2, workerUrl: misbehaving });
    const mail = await parser.parse(input(pooled("thrower", "X-Test-Throw: always")), ctx);
    expect(mail.flags.wrapped).toBe("unparsable");
    expect(mail.text).toMatch(/parser bug/);
    expect((await parser.parse(input(pooled("next")), ctx)).flags.wrapped).toBeNull();
  });

  it("tries a message again on a fresh worker when its worker died once", async () => {
    parser = createParser({ workers: 1, workerUrl: misbehaving });
    const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-pool-")), "crashed");
    const mail = await parser.parse(input(pooled("unlucky", `X-Test-Exit-Once: ${marker}`)), ctx);
    expect(fs.existsSync(marker)).toBe(true);
    expect(mail.flags.wrapped).toBeNull();
    expect(mail.subject).toBe("unlucky");
    fs.rmSync(path.dirname(marker), { recursive: true, force: true });
  });

  it("stops a parse that runs too long and wraps the message as unparsable", async () => {
    parser = createParser({ workers: 1, workerUrl: misbehaving, timeoutMs: 1000 });
    const mail = await parser.parse(input(pooled("hang", "X-Test-Hang: yes")), ctx);
    expect(mail.flags.wrapped).toBe("unparsable");
    expect(mail.text).toMatch(/took longer than 1 s/);
    expect((await parser.parse(input(pooled("fine")), ctx)).subject).toBe("fine");
  });

  it("finishes the parses asked for before closing, and refuses new ones after", async () => {
    parser = createParser({ workers: 1 });
    const pending = [parser.parse(input(pooled("one")), ctx), parser.parse(input(pooled("two")), ctx)];
    await parser.close();
    expect((await Promise.all(pending)).map((m) => m.subject)).toEqual(["one", "two"]);
    await expect(parser.parse(input(pooled("three")), ctx)).rejects.toThrow(/closed/);
  });

  it("says so when its workers cannot start, instead of blaming the messages", async () => {
    parser = createParser({ workers: 1, workerUrl: new URL("./no-such-worker.js", import.meta.url) });
    await expect(parser.parse(input(pooled("x")), ctx)).rejects.toThrow(/parse workers cannot start/);
  });

  it("parses new mail before the backlog that waits ahead of it", async () => {
    parser = createParser({ workers: 1 });
    const done: string[] = [];
    const track = (subject: string, urgent: boolean) => parser!.parse(input(pooled(subject)), ctx, { urgent }).then((m) => done.push(m.subject));
    const backlog = Array.from({ length: 60 }, (_, i) => track(`backlog ${i}`, false));
    const urgent = track("new mail", true);
    await Promise.all([...backlog, urgent]);
    // at most the message the worker was parsing when it came
    expect(done.indexOf("new mail")).toBeLessThanOrEqual(2);
    expect(done.filter((s) => s.startsWith("backlog"))).toEqual(Array.from({ length: 60 }, (_, i) => `backlog ${i}`));
  });

  it("wraps a message that exhausts its worker's memory limit as unparsable, and the server and the other parses go on", async () => {
    parser = createParser({ workers: 1, memoryLimitMb: 64 });
    const huge = Buffer.concat([eml("From: a@x.example", "Subject: huge", "Content-Type: text/html", "", ""), Buffer.from(`<p>${"word ".repeat(16_000_000)}</p>`)]);
    const mail = await parser.parse(input(huge), { ...ctx, maxSizeBytes: 200 * 1024 * 1024 });
    expect(mail.flags.wrapped).toBe("unparsable");
    expect(mail.text).toMatch(/stopped the parser/);
    expect(mail.subject).toBe("huge");
    expect((await parser.parse(input(pooled("after")), ctx)).flags.wrapped).toBeNull();
  });
});
