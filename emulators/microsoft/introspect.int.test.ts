import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from "@azure/msal-node";
import { ImapFlow } from "imapflow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../test/support/dovecot.js";
import { uniqueUser } from "../../test/support/mail-fixtures.js";
import { startEmulator, type Seed, type StartedEmulator } from "./index.js";

/*
 * The emulator's introspection endpoint behind the real Dovecot 2.3 (`passdb oauth2`), logged in to
 * with imapflow and tokens the real MSAL got from the emulator. See entra-introspect.ts for what
 * Dovecot sends and why the replies are what they are.
 */

const tenantId = "4d1f7a2b-3c5e-4f60-8a91-b2c3d4e5f6a7";
const clientId = "7c6b5a49-3827-4165-9f8e-7d6c5b4a3928";
const secret = "dovecot-test-secret";
const otherTenantId = "e1d2c3b4-a596-4877-8695-a4b3c2d1e0f9";
const otherClientId = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const otherSecret = "other-tenant-secret";
const exchange = "https://outlook.office365.com";

// test/support's Dovecot users live at acme.test, so the tenant's domain is that
const seed: Seed = {
  tenants: [
    {
      id: tenantId,
      domain: "acme.test",
      clients: [
        {
          clientId,
          clientSecret: secret,
          roles: ["IMAP.AccessAsApp", "POP.AccessAsApp"],
          scopes: ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All"],
        },
      ],
      users: [],
    },
    { id: otherTenantId, domain: "fabrikam.test", clients: [{ clientId: otherClientId, clientSecret: otherSecret, roles: ["IMAP.AccessAsApp"] }], users: [] },
  ],
};

let emulator: StartedEmulator;
let certDir: string;
/** the CA again, where Dovecot's auth process (not root) can read it */
let caDir: string;
/** with the settings entra-introspect.ts asks for */
let dovecot: Dovecot;
/** with test/support's settings as they are (username_format left at %Lu) */
let plainDovecot: Dovecot;

beforeAll(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-introspect-test-"));
  emulator = await startEmulator({ certDir, seed });
  caDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-introspect-ca-"));
  fs.chmodSync(caDir, 0o755);
  const caFile = path.join(caDir, "ca.pem");
  fs.writeFileSync(caFile, emulator.caPem, { mode: 0o644 });
  const url = `${emulator.url}/_emulator/introspect`;
  dovecot = await startDovecot({
    oauth2IntrospectionUrl: url,
    oauth2Settings: [`tls_ca_cert_file = ${caFile}`, `username_format = %Ld`, `send_auth_headers = yes`],
  });
  plainDovecot = await startDovecot({ oauth2IntrospectionUrl: url, oauth2Settings: [`tls_ca_cert_file = ${caFile}`] });
});

afterAll(async () => {
  await dovecot?.stop();
  await plainDovecot?.stop();
  await emulator?.close();
  fs.rmSync(certDir, { recursive: true, force: true });
  fs.rmSync(caDir, { recursive: true, force: true });
});

function networkClient(): INetworkModule {
  const send = <T>(method: "GET" | "POST", url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...options?.headers };
      if (options?.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
      const req = https.request(url, { method, headers, ca: emulator.caPem }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const flat: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(", ") : v;
          resolve({ status: res.statusCode ?? 0, headers: flat, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as T });
        });
      });
      req.on("error", reject);
      req.end(options?.body);
    });
  return { sendGetRequestAsync: (url, options) => send("GET", url, options), sendPostRequestAsync: (url, options) => send("POST", url, options) };
}

function app(tenant = tenantId, id = clientId, clientSecret = secret): ConfidentialClientApplication {
  return new ConfidentialClientApplication({
    auth: { clientId: id, clientSecret, authority: `${emulator.url}/${tenant}`, knownAuthorities: [new URL(emulator.url).host] },
    system: { networkClient: networkClient() },
  });
}

/** A mailbox on both Dovecots and a user of the emulator's tenant with the same address. */
async function mailbox(): Promise<{ user: string; password: string }> {
  const user = uniqueUser("entra");
  const password = `Pw-${user}`;
  // the userdb needs the user; its password is never used for these logins
  dovecot.addUser(user, `unused-${user}`);
  plainDovecot.addUser(user, `unused-${user}`);
  const res = await fetchControl("/_emulator/users", { tenantId, mail: user, password });
  expect(res.status).toBe(200);
  return { user, password };
}

function fetchControl(urlPath: string, body: unknown): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = https.request(`${emulator.url}${urlPath}`, { method: "POST", headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) }, ca: emulator.caPem }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", reject);
    req.end(text);
  });
}

async function delegatedToken(user: string, password: string, permission = "IMAP.AccessAsUser.All"): Promise<string> {
  const result = await app().acquireTokenByUsernamePassword({ scopes: [`${exchange}/${permission}`], username: user, password });
  return result!.accessToken;
}

/** Logs in over IMAP with XOAUTH2/OAUTHBEARER; answers "ok" after opening INBOX, or the server's refusal. */
async function imapLogin(server: Dovecot, user: string, accessToken: string): Promise<string> {
  const client = new ImapFlow({ host: "127.0.0.1", port: server.imapPort, secure: false, doSTARTTLS: false, auth: { user, accessToken }, logger: false, disableAutoIdle: true });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.mailboxOpen("INBOX");
    await client.logout();
    return "ok";
  } catch (err) {
    client.close();
    const e = err as { authenticationFailed?: boolean; serverResponseCode?: string };
    return e.authenticationFailed ? `refused: ${e.serverResponseCode ?? "?"}` : `error: ${String(err)}`;
  }
}

describe("Dovecot logins with tokens from the emulator", () => {
  it("lets a user in with a delegated IMAP token for that user's own mailbox only", async () => {
    const a = await mailbox();
    const token = await delegatedToken(a.user, a.password);
    expect(await imapLogin(dovecot, a.user, token)).toBe("ok");
    // the default username_format binds the token to its user: another mailbox stays shut
    expect(await imapLogin(plainDovecot, a.user, token)).toBe("ok");
    const b = await mailbox();
    expect(await imapLogin(plainDovecot, b.user, token)).toBe("refused: AUTHENTICATIONFAILED");
  });

  it("lets an app in with a client-credentials token to any mailbox of its tenant's domain", async () => {
    const token = (await app().acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] }))!.accessToken;
    const a = await mailbox();
    const b = await mailbox();
    expect(await imapLogin(dovecot, a.user, token)).toBe("ok");
    expect(await imapLogin(dovecot, b.user, token)).toBe("ok");
  });

  it("refuses an app token of another tenant, and any app token where username_format is left at %Lu", async () => {
    const a = await mailbox();
    const foreign = (await app(otherTenantId, otherClientId, otherSecret).acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] }))!.accessToken;
    expect(await imapLogin(dovecot, a.user, foreign)).toBe("refused: AUTHENTICATIONFAILED");
    const own = (await app().acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] }))!.accessToken;
    expect(await imapLogin(plainDovecot, a.user, own)).toBe("refused: AUTHENTICATIONFAILED");
  });

  it("refuses a POP-only token for IMAP, a forged token, and an expired one", async () => {
    const a = await mailbox();
    expect(await imapLogin(dovecot, a.user, await delegatedToken(a.user, a.password, "POP.AccessAsUser.All"))).toBe("refused: AUTHENTICATIONFAILED");
    const token = await delegatedToken(a.user, a.password);
    const [h, b] = token.split(".");
    expect(await imapLogin(dovecot, a.user, `${h}.${b}.${Buffer.from("forged").toString("base64url")}`)).toBe("refused: AUTHENTICATIONFAILED");
    expect(await imapLogin(dovecot, a.user, token)).toBe("ok");
    emulator.state.clockOffsetMs = 2 * 3600 * 1000;
    try {
      expect(await imapLogin(dovecot, a.user, token)).toBe("refused: AUTHENTICATIONFAILED");
    } finally {
      emulator.state.clockOffsetMs = 0;
    }
  });
});
