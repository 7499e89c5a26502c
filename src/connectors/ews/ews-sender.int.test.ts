import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { uniqueUser } from "../../../test/support/mail-fixtures.js";
import { startMicrosoft, type Microsoft } from "../../../test/support/microsoft.js";
import { trustedCa } from "../../shared/https-request.js";
import { MailSendError } from "../mail-sender.js";
import { fixedCredential } from "../mail-source.js";
import { EwsSender } from "./ews-sender.js";

/** Sending through EWS (CreateItem with MIME, SendAndSaveCopy) against the emulator's Exchange. */
let ms: Microsoft;
const senders: EwsSender[] = [];

beforeAll(async () => {
  ms = await startMicrosoft();
});
afterEach(async () => {
  await ms.control("/_emulator/faults", { clear: true });
});
afterAll(async () => {
  await Promise.all(senders.map((s) => s.close()));
  await ms?.stop();
});

async function newSender(): Promise<{ sender: EwsSender; user: string }> {
  const user = uniqueUser("ewsout");
  const password = `${user}-secret`;
  await ms.addUser(user, password);
  const sender = new EwsSender({
    host: "127.0.0.1",
    port: Number(new URL(ms.url).port),
    security: "tls",
    login: user,
    credentials: fixedCredential({ method: "password", password }),
    ca: trustedCa(ms.emulator.caPem),
    allowInvalidCertificates: false,
    timeoutMs: 10_000,
  });
  senders.push(sender);
  return { sender, user };
}

const mime = (from: string, to: string, subject: string) =>
  Buffer.from([`From: Support <${from}>`, `To: ${to}`, `Subject: ${subject}`, "Message-ID: <reply-" + subject.replace(/\W/g, "") + "@acme.test>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", "Grüße, the support team", ""].join("\r\n"));
const sent = async () => (await ms.get("/_emulator/sent")) as { from: string; to: string[]; bcc: string[]; mime: string; via: string }[];

describe("sending through EWS", () => {
  it("sends the composed bytes as they are, keeps a copy in Sent Items, and reaches envelope-only recipients as Bcc", async () => {
    const { sender, user } = await newSender();
    const customer = uniqueUser("customer");
    const hidden = uniqueUser("supervisor");
    await ms.addUser(customer);
    await ms.addUser(hidden);
    const raw = mime(user, customer, "Your order");
    const receipt = await sender.send({ raw, envelope: { from: user, to: [customer, hidden] } });
    expect(receipt).toMatchObject({ accepted: [customer, hidden], rejected: [] });

    const record = (await sent()).find((r) => r.from.toLowerCase() === user)!;
    expect(record).toMatchObject({ via: "ews", to: [customer], bcc: [hidden] });
    const delivered = (await ms.messages(customer, "inbox"))[0]!;
    expect(Buffer.from(delivered.mimeBase64, "base64").toString("utf8")).toContain("Grüße, the support team");
    expect(Buffer.from(delivered.mimeBase64, "base64").toString("latin1")).not.toMatch(/^Bcc:/im);
    expect((await ms.messages(hidden, "inbox")).map((m) => m.subject)).toEqual(["Your order"]);
    expect((await ms.messages(user, "sentitems")).map((m) => m.subject)).toEqual(["Your order"]);
  });

  it("waits out throttling and sends once; a message Exchange refuses is not sent again, a refused login is", async () => {
    const { sender, user } = await newSender();
    const customer = uniqueUser("customer");
    await ms.addUser(customer);
    await ms.control("/_emulator/faults", { fail: { match: "ews", status: 429, retryAfterSeconds: 0.5, times: 1 } });
    await sender.send({ raw: mime(user, customer, "Throttled once"), envelope: { from: user, to: [customer] } });
    expect((await sent()).filter((r) => r.from.toLowerCase() === user)).toHaveLength(1);
    expect((await ms.messages(customer, "inbox")).map((m) => m.subject)).toEqual(["Throttled once"]);

    const refused = await sender.send({ raw: mime(user, "nobody", "Bad recipient"), envelope: { from: user, to: ["nobody"] } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MailSendError);
    expect(refused).toMatchObject({ code: "rejected", retry: false, serverText: expect.stringMatching(/^ErrorInvalidRecipients/) });

    const locked = new EwsSender({ host: "127.0.0.1", port: Number(new URL(ms.url).port), security: "tls", login: user, credentials: fixedCredential({ method: "password", password: "wrong" }), ca: trustedCa(ms.emulator.caPem), allowInvalidCertificates: false, timeoutMs: 10_000 });
    senders.push(locked);
    await expect(locked.send({ raw: mime(user, customer, "Wrong password"), envelope: { from: user, to: [customer] } })).rejects.toMatchObject({ code: "auth_failed", retry: true });
    expect((await sent()).filter((r) => r.from.toLowerCase() === user)).toHaveLength(1);
  });
});
