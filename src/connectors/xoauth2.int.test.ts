import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../test/support/dovecot.js";
import { mailboxSettings, testMessage, uniqueUser } from "../../test/support/mail-fixtures.js";
import { MemorySyncContext } from "../../test/support/memory-sync-context.js";
import { createMailSource } from "./index.js";
import { MailSourceError, type MailSourceSettings } from "./mail-source.js";

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

function oauthMailbox(protocol: "IMAP" | "POP3", tokenValid: boolean): { user: string; settings: MailSourceSettings } {
  const user = uniqueUser("oauth");
  // the userdb still needs the user; its password is never used
  dovecot.addUser(user, `unused-${user}`);
  const token = `token-${user}`;
  if (tokenValid) tokens.set(token, user);
  const settings = mailboxSettings(dovecot, user, "", {
    credential: { method: "xoauth2", accessToken: token },
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
        expect((await source.sync(new MemorySyncContext())).fetched).toBe(1);
      } finally {
        await source.close();
      }
    });

    it(`${protocol} reports a refused token as auth_failed`, async () => {
      const { user, settings } = oauthMailbox(protocol, false);
      const source = createMailSource(protocol, settings);
      const err = await source.sync(new MemorySyncContext()).catch((e: unknown) => e);
      await source.close();
      expect(err).toBeInstanceOf(MailSourceError);
      expect((err as MailSourceError).code).toBe("auth_failed");
      expect((err as MailSourceError).message).toContain(`The server refused the login for ${user}`);
      expect((err as MailSourceError).message).not.toContain(`token-${user}`);
    });
  }
});
