import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { allApplicationPermissions, allDelegatedPermissions, startEmulator, type Seed, type StartedEmulator } from "../../emulators/microsoft/index.js";
import type { CredentialProvider, MailSourceSettings } from "../../src/connectors/mail-source.js";
import { createLogger } from "../../src/logger.js";
import { TokenService, type OAuthAccount } from "../../src/oauth/token-service.js";
import { startDovecot, type Dovecot, type DovecotOptions } from "./dovecot.js";

/** The Microsoft emulator for a test: in-process, its certificates in a temp dir. */
export interface Microsoft {
  emulator: StartedEmulator;
  url: string;
  /** what a mailbox's tenant authority is set to */
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** a token service that trusts the emulator's CA, as Mailroom's does with MAILROOM_TRUSTED_CA_FILE */
  tokens(): TokenService;
  /** the token service's account for the first app with client credentials: IMAP inbound unless overridden */
  account(overrides?: Partial<OAuthAccount>): OAuthAccount;
  /** POST to one of the emulator's /_emulator routes */
  control(route: string, body: unknown): Promise<unknown>;
  get(route: string): Promise<unknown>;
  /** a user of the emulator's first tenant; the password grant signs in with `password` */
  addUser(mail: string, password?: string): Promise<{ id: string; mail: string }>;
  deliver(to: string, mime: string | Buffer): Promise<string>;
  /** what one of the user's folders holds (the Inbox unless named), as GET /_emulator/messages lists it */
  messages(user: string, folder?: string): Promise<EmulatorMessage[]>;
  /** the bytes of the user's Inbox messages that are not read: what a connector has not acknowledged */
  unread(user: string): Promise<Buffer[]>;
  /** what a connector needs to reach `user`'s mailbox at the emulator (Graph or EWS: the same host and port) */
  mailboxSettings(user: string, credentials: CredentialProvider): MailSourceSettings;
  stop(): Promise<void>;
}

export interface EmulatorMessage {
  id: string;
  subject: string;
  isRead: boolean;
  internetMessageId: string;
  mimeBase64: string;
}

/** One tenant whose domain is test/support's (acme.test), one app with every mail permission, no users yet. */
export function acmeSeed(): Seed {
  return {
    tenants: [
      {
        id: "5b0c6f5e-0a1d-4c8e-9f3a-acme00000001",
        domain: "acme.test",
        clients: [
          {
            clientId: "0f4e2d1c-7b6a-4958-8a7b-acme00000002",
            clientSecret: "acme-client-secret-1",
            roles: [...allApplicationPermissions],
            scopes: [...allDelegatedPermissions],
          },
        ],
        users: [],
      },
    ],
  };
}

/** The emulator with `acmeSeed()` unless told otherwise. */
export async function startMicrosoft(options: { seed?: Seed; strict?: boolean } = {}): Promise<Microsoft> {
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-ms-"));
  const emulator = await startEmulator({ certDir, seed: options.seed ?? acmeSeed(), ...(options.strict ? { strict: true } : {}) });
  const described = emulator.describe();
  const tenant = described.tenants[0]!;
  const client = tenant.clients[0]!;
  const call = async (method: string, route: string, body?: unknown) => {
    const res = await fetchEmulator(emulator, method, route, body);
    if (res.status >= 300) throw new Error(`emulator ${method} ${route}: ${res.status} ${res.text}`);
    return res.text === "" ? undefined : (JSON.parse(res.text) as unknown);
  };
  const messages = async (user: string, folder = "inbox") => (await call("GET", `/_emulator/messages?user=${encodeURIComponent(user)}&folder=${folder}`)) as EmulatorMessage[];
  return {
    emulator,
    url: emulator.url,
    authority: `${emulator.url}/`,
    tenantId: tenant.id,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    tokens: () => new TokenService({ timeoutMs: 10_000, extraCa: emulator.caPem, log: createLogger("silent") }),
    account: (overrides = {}) => ({
      protocol: "IMAP",
      direction: "inbound",
      grant: "client_credentials",
      clientId: client.clientId,
      directoryId: tenant.id,
      tenantAuthority: `${emulator.url}/`,
      clientSecret: client.clientSecret,
      username: "support@acme.test",
      password: null,
      ...overrides,
    }),
    control: (route, body) => call("POST", route, body),
    get: (route) => call("GET", route),
    addUser: async (mail, password) => (await call("POST", "/_emulator/users", { tenantId: tenant.id, mail, ...(password ? { password } : {}) })) as { id: string; mail: string },
    deliver: async (to, mime) => {
      const body = typeof mime === "string" ? { to, mime } : { to, mimeBase64: mime.toString("base64") };
      return ((await call("POST", "/_emulator/deliver", body)) as { id: string }).id;
    },
    messages,
    unread: async (user) => (await messages(user)).filter((m) => !m.isRead).map((m) => Buffer.from(m.mimeBase64, "base64")),
    mailboxSettings: (user, credentials) => ({
      mailboxId: `mb-${user}`,
      host: "127.0.0.1",
      port: Number(new URL(emulator.url).port),
      security: "tls",
      login: user,
      credentials,
      folder: "INBOX",
      acknowledge: { mode: "seen" },
      initialImport: "all",
      connectTimeoutMs: 10_000,
      allowInvalidCertificates: false,
    }),
    stop: async () => {
      await emulator.close();
      fs.rmSync(certDir, { recursive: true, force: true });
    },
  };
}

/** A request to the emulator over HTTPS, trusting its CA (and nothing else unusual). */
export async function fetchEmulator(emulator: StartedEmulator, method: string, route: string, body?: unknown): Promise<{ status: number; text: string }> {
  const https = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = https.request(`${emulator.url}${route}`, { method, ca: emulator.caPem, headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * A Dovecot whose XOAUTH2 logins are checked by the emulator's introspection endpoint: delegated tokens
 * for their own user, application tokens for any user of the tenant's domain (see entra-introspect.ts).
 * Its users must be addresses of that domain.
 */
export async function startOAuthDovecot(microsoft: Microsoft, options: DovecotOptions = {}): Promise<Dovecot & { caDir: string }> {
  // Dovecot's auth process is not root: the CA goes where it can read it
  const caDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-ms-ca-"));
  fs.chmodSync(caDir, 0o755);
  const caFile = path.join(caDir, "ca.pem");
  fs.writeFileSync(caFile, microsoft.emulator.caPem, { mode: 0o644 });
  const dovecot = await startDovecot({
    ...options,
    oauth2IntrospectionUrl: `${microsoft.url}/_emulator/introspect`,
    oauth2Settings: [`tls_ca_cert_file = ${caFile}`, "username_format = %Ld", "send_auth_headers = yes"],
  });
  const stop = dovecot.stop.bind(dovecot);
  return Object.assign(dovecot, {
    caDir,
    stop: async () => {
      await stop();
      fs.rmSync(caDir, { recursive: true, force: true });
    },
  });
}
