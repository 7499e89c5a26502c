import { createHmac, randomBytes } from "node:crypto";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// MD4 is the one primitive shared with the server; ews-ntlm.test.ts checks it against RFC 1320's test suite
import { md4 } from "./ews-md4.js";
import { deliver, graphToken, sampleMime, startTestEmulator, testSeed, SALES, SUPPORT, type TestEmulator } from "./graph-test-support.js";
import { basic, basicFor, ews, ewsToken, fault, headerLines, impersonate, messages, soap, success, NS_M, NS_SOAP, NS_T } from "./ews-test-support.js";

const AGENT = { id: "a1a1a1a1-0000-4000-8000-000000000001", mail: "agent@contoso.test" };
const PASSWORD = `${AGENT.mail}-password`;

let t: TestEmulator;

beforeAll(async () => {
  t = await startTestEmulator({ seed: testSeed([AGENT]) });
});

afterAll(async () => {
  await t.close();
});

const getInbox = (header = "") => soap(`<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>`, header);

// ---- a small NTLMv2 client, written from MS-NLMP 2.2.1 and 3.3.2, independent of the emulator's NTLM code ----

const utf16 = (s: string) => Buffer.from(s, "utf16le");
const hmacMd5 = (key: Buffer, ...data: Buffer[]) => createHmac("md5", key).update(Buffer.concat(data)).digest();
const NEGOTIATE_FLAGS = 0x00000001 | 0x00000002 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00080000 | 0x02000000 | 0x20000000 | 0x80000000;

function negotiateMessage(): Buffer {
  const msg = Buffer.alloc(40);
  msg.write("NTLMSSP\0", 0, "latin1");
  msg.writeUInt32LE(1, 8);
  msg.writeUInt32LE(NEGOTIATE_FLAGS >>> 0, 12);
  // DomainNameFields and WorkstationFields empty (16..31); Version 10.0.19041, revision 15
  msg.writeUInt8(10, 32);
  msg.writeUInt16LE(19041, 34);
  msg.writeUInt8(15, 39);
  return msg;
}

function readChallenge(header: string | undefined): { challenge: Buffer; targetInfo: Buffer; flags: number; targetName: string } {
  const m = /^NTLM (.+)$/.exec(header ?? "");
  if (!m) throw new Error(`no NTLM challenge in ${header}`);
  const msg = Buffer.from(m[1] as string, "base64");
  expect(msg.subarray(0, 8).toString("latin1")).toBe("NTLMSSP\0");
  expect(msg.readUInt32LE(8)).toBe(2);
  const buffer = (at: number) => msg.subarray(msg.readUInt32LE(at + 4), msg.readUInt32LE(at + 4) + msg.readUInt16LE(at));
  return { challenge: msg.subarray(24, 32), targetInfo: buffer(40), flags: msg.readUInt32LE(20), targetName: buffer(12).toString("utf16le") };
}

/** The MsvAvTimestamp of a TargetInfo: an NTLMv2 client puts the server's time in its blob. */
function timestampOf(targetInfo: Buffer): Buffer {
  for (let i = 0; i + 4 <= targetInfo.length; ) {
    const id = targetInfo.readUInt16LE(i);
    const len = targetInfo.readUInt16LE(i + 2);
    if (id === 7) return targetInfo.subarray(i + 4, i + 4 + len);
    if (id === 0) break;
    i += 4 + len;
  }
  throw new Error("no MsvAvTimestamp");
}

function authenticateMessage(o: { user: string; domain: string; password: string; challenge: Buffer; targetInfo: Buffer; ntlmV1?: boolean }): Buffer {
  const responseKeyNT = hmacMd5(md4(utf16(o.password)), utf16(o.user.toUpperCase() + o.domain));
  const clientChallenge = randomBytes(8);
  const temp = Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), timestampOf(o.targetInfo), clientChallenge, Buffer.alloc(4), o.targetInfo, Buffer.alloc(4)]);
  const ntProofStr = hmacMd5(responseKeyNT, o.challenge, temp);
  // an NTLMv1 client sends 24 bytes (DES of the NT hash); their content does not matter, their length does
  const nt = o.ntlmV1 ? randomBytes(24) : Buffer.concat([ntProofStr, temp]);
  const lm = o.ntlmV1 ? randomBytes(24) : Buffer.concat([hmacMd5(responseKeyNT, o.challenge, clientChallenge), clientChallenge]);
  const payload = [lm, nt, utf16(o.domain), utf16(o.user), utf16("WORKSTATION"), Buffer.alloc(0)];
  const head = Buffer.alloc(64);
  head.write("NTLMSSP\0", 0, "latin1");
  head.writeUInt32LE(3, 8);
  let offset = head.length;
  payload.forEach((p, i) => {
    head.writeUInt16LE(p.length, 12 + i * 8);
    head.writeUInt16LE(p.length, 14 + i * 8);
    head.writeUInt32LE(offset, 16 + i * 8);
    offset += p.length;
  });
  head.writeUInt32LE(0x00000001 | 0x00000200 | 0x00008000 | 0x00080000, 60);
  return Buffer.concat([head, ...payload]);
}

/** type 1 → type 2 → type 3 on one kept-alive connection; the answer to the type 3 request. */
async function ntlmHandshake(agent: https.Agent, o: { user: string; domain: string; password: string; ntlmV1?: boolean }) {
  const first = await ews(t.emulator, getInbox(), { agent, auth: `NTLM ${negotiateMessage().toString("base64")}` });
  expect(first.status).toBe(401);
  const { challenge, targetInfo, flags, targetName } = readChallenge(first.headers["www-authenticate"]);
  expect(targetName).toBe("ACME");
  expect(flags & 0x00080000).toBe(0x00080000);
  return ews(t.emulator, getInbox(), { agent, auth: `NTLM ${authenticateMessage({ ...o, challenge, targetInfo }).toString("base64")}` });
}

const keepAlive = () => new https.Agent({ keepAlive: true, maxSockets: 1, ca: t.emulator.caPem });

describe("Basic", () => {
  it("lets a user in by mail (any case) or DOMAIN\\localpart, and answers no or wrong credentials with the three challenges", async () => {
    expect(success(await ews(t.emulator, getInbox(), { auth: basicFor(AGENT.mail) }), "GetFolder").Folders.Folder[0].DisplayName).toBe("Inbox");
    expect((await ews(t.emulator, getInbox(), { auth: basic(AGENT.mail.toUpperCase(), PASSWORD) })).status).toBe(200);
    expect((await ews(t.emulator, getInbox(), { auth: basic("CONTOSO\\agent", PASSWORD) })).status).toBe(200);

    for (const auth of [undefined, basic(AGENT.mail, "wrong"), basic("CONTOSO\\nobody", PASSWORD), "Digest abc"]) {
      const r = await ews(t.emulator, getInbox(), auth === undefined ? {} : { auth });
      expect(r.status).toBe(401);
      expect(r.text).toBe("");
      expect(headerLines(r, "www-authenticate")).toEqual(["Negotiate", "NTLM", 'Basic realm="127.0.0.1"']);
    }
  });

  it("acts on the caller's own mailbox only", async () => {
    const other = soap(
      `<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>${SALES.mail}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>`,
    );
    const denied = messages(await ews(t.emulator, other, { auth: basicFor(AGENT.mail) }), "GetFolder")[0];
    expect(denied).toMatchObject({ "@ResponseClass": "Error", ResponseCode: "ErrorAccessDenied", DescriptiveLinkKey: "0" });
    const impersonating = messages(await ews(t.emulator, getInbox(impersonate(SALES.mail)), { auth: basicFor(AGENT.mail) }), "GetFolder")[0];
    expect(impersonating.ResponseCode).toBe("ErrorImpersonateUserDenied");
  });
});

describe("NTLM", () => {
  it("authenticates a connection with an NTLMv2 handshake; the connection stays signed in, a new one does not", async () => {
    const agent = keepAlive();
    try {
      const done = await ntlmHandshake(agent, { user: "agent", domain: "CONTOSO", password: PASSWORD });
      expect(done.status).toBe(200);
      expect(success(done, "GetFolder").Folders.Folder[0].DisplayName).toBe("Inbox");
      // IIS keeps the connection authenticated: no Authorization header needed on it from now on
      const again = await ews(t.emulator, getInbox(), { agent });
      expect(again.status).toBe(200);
      // as the user it signed in: their own mailbox
      const other = await ews(t.emulator, getInbox(impersonate(SALES.mail)), { agent });
      expect(messages(other, "GetFolder")[0].ResponseCode).toBe("ErrorImpersonateUserDenied");
    } finally {
      agent.destroy();
    }
    const fresh = keepAlive();
    try {
      expect((await ews(t.emulator, getInbox(), { agent: fresh })).status).toBe(401);
    } finally {
      fresh.destroy();
    }
  });

  it("takes the mail as UserName, in any case, with any domain", async () => {
    const agent = keepAlive();
    try {
      expect((await ntlmHandshake(agent, { user: AGENT.mail.toUpperCase(), domain: "", password: PASSWORD })).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it("refuses a wrong password, an NTLMv1 response, and a type 3 on a connection that got no challenge", async () => {
    for (const attempt of [{ password: "wrong" }, { password: PASSWORD, ntlmV1: true }]) {
      const agent = keepAlive();
      try {
        const r = await ntlmHandshake(agent, { user: "agent", domain: "CONTOSO", ...attempt });
        expect(r.status).toBe(401);
        expect(headerLines(r, "www-authenticate")).toEqual(["Negotiate", "NTLM", 'Basic realm="127.0.0.1"']);
        expect((await ews(t.emulator, getInbox(), { agent })).status).toBe(401);
      } finally {
        agent.destroy();
      }
    }
    // a type 3 answering a challenge that another connection got
    const one = keepAlive();
    const two = keepAlive();
    try {
      const first = await ews(t.emulator, getInbox(), { agent: one, auth: `NTLM ${negotiateMessage().toString("base64")}` });
      const { challenge, targetInfo } = readChallenge(first.headers["www-authenticate"]);
      const type3 = authenticateMessage({ user: "agent", domain: "CONTOSO", password: PASSWORD, challenge, targetInfo });
      expect((await ews(t.emulator, getInbox(), { agent: two, auth: `NTLM ${type3.toString("base64")}` })).status).toBe(401);
    } finally {
      one.destroy();
      two.destroy();
    }
  });
});

describe("Bearer", () => {
  it("an application token with full_access_as_app acts on the mailbox ExchangeImpersonation names", async () => {
    await deliver(t.emulator, AGENT.mail, sampleMime("For the app", { to: AGENT.mail }));
    const token = ewsToken(t.emulator, { roles: ["full_access_as_app"] });
    const ok = success(await ews(t.emulator, getInbox(impersonate(AGENT.mail.toUpperCase())), { auth: `Bearer ${token}` }), "GetFolder");
    expect(Number(ok.Folders.Folder[0].TotalCount)).toBeGreaterThan(0);
    const missing = messages(await ews(t.emulator, getInbox(), { auth: `Bearer ${token}` }), "GetFolder")[0];
    expect(missing).toMatchObject({ "@ResponseClass": "Error", ResponseCode: "ErrorInvalidExchangeImpersonationHeaderData" });
    const unknown = messages(await ews(t.emulator, getInbox(impersonate("nobody@contoso.test")), { auth: `Bearer ${token}` }), "GetFolder")[0];
    expect(unknown.ResponseCode).toBe("ErrorNonExistentMailbox");
    // the token's app id as audience works as well as the URI
    const byAppId = ewsToken(t.emulator, { roles: ["full_access_as_app"] }, { aud: "00000002-0000-0ff1-ce00-000000000000" });
    expect((await ews(t.emulator, getInbox(impersonate(AGENT.mail)), { auth: `Bearer ${byAppId}` })).status).toBe(200);
  });

  it("a delegated token with EWS.AccessAsUser.All acts as its user; X-AnchorMailbox changes nothing", async () => {
    const token = ewsToken(t.emulator, { scp: "EWS.AccessAsUser.All", user: SUPPORT });
    const r = await ews(t.emulator, getInbox(), { auth: `Bearer ${token}`, headers: { "x-anchormailbox": SUPPORT.mail } });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/xml; charset=utf-8");
    expect(success(r, "GetFolder").Folders.Folder[0].FolderId["@Id"]).toBeTruthy();
    const other = soap(
      `<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>${SALES.mail}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>`,
    );
    expect(messages(await ews(t.emulator, other, { auth: `Bearer ${token}` }), "GetFolder")[0].ResponseCode).toBe("ErrorAccessDenied");
  });

  it("refuses an expired token, a token for another audience, a forged one and one without EWS permission, with 401 and the reason", async () => {
    const bearerChallenge =
      'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000@*", token_types="app_asserted_user_v1 service_asserted_app_v1", error="invalid_token"';
    const token = ewsToken(t.emulator, { scp: "EWS.AccessAsUser.All", user: SUPPORT });
    t.emulator.state.clockOffsetMs += 2 * 3600_000;
    let expired;
    try {
      expired = await ews(t.emulator, getInbox(), { auth: `Bearer ${token}` });
    } finally {
      t.emulator.state.clockOffsetMs -= 2 * 3600_000;
    }
    expect(expired.status).toBe(401);
    expect(expired.headers["www-authenticate"]).toBe(bearerChallenge);
    expect(expired.headers["x-ms-diagnostics"]).toMatch(/^2000001;reason=".+";error_category="expired"$/);

    const graph = graphToken(t.emulator, { scp: "EWS.AccessAsUser.All Mail.ReadWrite", user: SUPPORT });
    const wrongAudience = await ews(t.emulator, getInbox(), { auth: `Bearer ${graph}` });
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.headers["x-ms-diagnostics"]).toMatch(/error_category="invalid_token"$/);

    const forged = `${token.slice(0, token.lastIndexOf(".") + 1)}${Buffer.alloc(256, 1).toString("base64url")}`;
    const badSignature = await ews(t.emulator, getInbox(), { auth: `Bearer ${forged}` });
    expect(badSignature.status).toBe(401);
    expect(badSignature.headers["x-ms-diagnostics"]).toMatch(/error_category="invalid_signature"$/);

    for (const grant of [{ roles: ["Mail.ReadWrite"] }, { scp: "IMAP.AccessAsUser.All", user: SUPPORT }]) {
      const r = await ews(t.emulator, getInbox(impersonate(SUPPORT.mail)), { auth: `Bearer ${ewsToken(t.emulator, grant)}` });
      expect(r.status).toBe(401);
      expect(r.headers["www-authenticate"]).toBe(bearerChallenge);
      expect(r.headers["x-ms-diagnostics"]).toMatch(/^2000008;/);
    }
  });
});

describe("SOAP", () => {
  it("reads any namespace prefixes, and answers malformed XML and unknown operations with a SOAP fault", async () => {
    const other = `<?xml version="1.0"?><env:Envelope xmlns:env="${NS_SOAP}" xmlns:typ="${NS_T}"><env:Body><GetFolder xmlns="${NS_M}"><FolderShape><typ:BaseShape>IdOnly</typ:BaseShape></FolderShape><FolderIds><typ:DistinguishedFolderId Id="sentitems"/></FolderIds></GetFolder></env:Body></env:Envelope>`;
    expect(success(await ews(t.emulator, other, { auth: basicFor(AGENT.mail) }), "GetFolder").Folders.Folder[0].DisplayName).toBe("Sent Items");

    const malformed = await ews(t.emulator, "<soap:Envelope><soap:Body><m:GetFolder>", { auth: basicFor(AGENT.mail) });
    expect(malformed.status).toBe(500);
    expect(fault(malformed)).toEqual({ faultcode: "a:ErrorSchemaValidation", responseCode: "ErrorSchemaValidation" });

    const unknown = await ews(t.emulator, soap("<m:ResolveNames/>"), { auth: basicFor(AGENT.mail) });
    expect(unknown.status).toBe(500);
    expect(fault(unknown)).toEqual({ faultcode: "a:ErrorInvalidRequest", responseCode: "ErrorInvalidRequest" });

    const folders = await ews(
      t.emulator,
      soap(`<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="nosuch"/><t:DistinguishedFolderId Id="msgfolderroot"/></m:FolderIds></m:GetFolder>`),
      { auth: basicFor(AGENT.mail) },
    );
    const [missing, root] = messages(folders, "GetFolder");
    expect(missing).toMatchObject({ "@ResponseClass": "Error", ResponseCode: "ErrorFolderNotFound" });
    expect(root.Folders.Folder[0]).toMatchObject({ DisplayName: "Top of Information Store", ChildFolderCount: "4" });
  });
});
