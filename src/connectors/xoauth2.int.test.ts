import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../test/support/dovecot.js";
import { mailboxSettings, testMessage, uniqueUser } from "../../test/support/mail-fixtures.js";
import { MemorySyncStore, syncOnce } from "../../test/support/memory-sync-store.js";
import { createMailSource } from "./index.js";
import { MailSourceError, fixedCredential, type Credential, type CredentialProvider, type MailSourceSettings } from "./mail-source.js";

/** token → user; Dovecot asks this RFC 7662 endpoint whether a token is good */
const tokens = new Map<string, string>();
let introspection: http.Server;
let dovecot: Dovecot;

beforeAll(async () => {
  introspection = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const token = new URLSearchParams(body).get("token") ?? "";
      const user = tokens.get(token);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(user ? { active: true, email: user } : { active: false }));
    });
  });
  await new Promise<void>((resolve) => introspection.listen(0, "127.0.0.1", resolve));
  const { port } = introspection.address() as AddressInfo;
  dovecot = await startDovecot({ oauth2IntrospectionUrl: `http://127.0.0.1:${port}/introspect` });
});

afterAll(async () => {
  await dovecot?.stop();
  await new Promise((resolve) => introspection?.close(resolve));
});

function oauthMailbox(
  protocol: "IMAP" | "POP3",
  tokenValid: boolean,
  credentials?: (user: string) => CredentialProvider,
): { user: string; settings: MailSourceSettings } {
  const user = uniqueUser("oauth");
  // the userdb still needs the user; its password is never used
  dovecot.addUser(user, `unused-${user}`);
  const token = `token-${user}`;
  if (tokenValid) tokens.set(token, user);
  const settings = mailboxSettings(dovecot, user, "", {
    credentials: credentials?.(user) ?? fixedCredential({ method: "xoauth2", accessToken: token }),
    port: protocol === "IMAP" ? dovecot.imapPort : dovecot.pop3Port,
    acknowledge: protocol === "IMAP" ? { mode: "seen" } : { mode: "delete" },
  });
  return { user, settings };
}

describe("XOAUTH2 logins", () => {
  for (const protocol of ["IMAP", "POP3"] as const) {
    it(`${protocol} logs in with an access token and takes the mail`, async () => {
      const { user, settings } = oauthMailbox(protocol, true);
      await dovecot.append(user, testMessage(`via ${protocol} and a token`));
      const source = createMailSource(protocol, settings);
      try {
        expect((await syncOnce(source, new MemorySyncStore())).report.fetched).toBe(1);
      } finally {
        await source.close();
      }
    });

    it(`${protocol} reports a refused token as auth_failed`, async () => {
      const { user, settings } = oauthMailbox(protocol, false);
      const source = createMailSource(protocol, settings);
      const err = await syncOnce(source, new MemorySyncStore()).catch((e: unknown) => e);
      await source.close();
      expect(err).toBeInstanceOf(MailSourceError);
      expect((err as MailSourceError).code).toBe("auth_failed");
      expect((err as MailSourceError).message).toContain(`The server refused the login for ${user}`);
      expect((err as MailSourceError).message).not.toContain(`token-${user}`);
    });

    it(`${protocol} asks for a new token after the server refused one, instead of sending it again`, async () => {
      let credentials!: RefreshingToken;
      const { user, settings } = oauthMailbox(protocol, false, (u) => (credentials = new RefreshingToken([`token-${u}`, `fresh-${u}`])));
      await dovecot.append(user, testMessage(`via ${protocol} and a fresh token`));
      const store = new MemorySyncStore();

      const first = createMailSource(protocol, settings);
      const err = await syncOnce(first, store).catch((e: unknown) => e);
      await first.close();
      expect((err as MailSourceError).code).toBe("auth_failed");

      // the token service has a valid token by now; the next login (a runner makes a new source) must get it
      tokens.set(`fresh-${user}`, user);
      const second = createMailSource(protocol, settings);
      try {
        expect((await syncOnce(second, store)).report.created).toBe(1);
      } finally {
        await second.close();
      }
      expect(credentials.handedOut).toEqual([`token-${user}`, `fresh-${user}`]);
    });
  }
});

/** A token service with a cache: it hands out the cached token until told that the server refused it. */
class RefreshingToken implements CredentialProvider {
  readonly handedOut: string[] = [];
  private refusals = 0;

  constructor(private readonly tokens: string[]) {}

  get(): Promise<Credential> {
    const token = this.tokens[Math.min(this.refusals, this.tokens.length - 1)]!;
    this.handedOut.push(token);
    return Promise.resolve({ method: "xoauth2", accessToken: token });
  }

  refused(): void {
    this.refusals++;
  }
}
