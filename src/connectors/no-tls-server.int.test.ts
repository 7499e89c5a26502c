import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../test/support/dovecot.js";
import { mailboxSettings, uniqueUser } from "../../test/support/mail-fixtures.js";
import { MemorySyncStore, syncOnce } from "../../test/support/memory-sync-store.js";
import { createMailSource } from "./index.js";
import { MailSourceError, type MailProtocol, type MailSourceSettings } from "./mail-source.js";

let dovecot: Dovecot;

beforeAll(async () => {
  dovecot = await startDovecot();
});

afterAll(async () => {
  await dovecot?.stop();
});

function settingsFor(protocol: MailProtocol, overrides: Partial<MailSourceSettings>): MailSourceSettings {
  const user = uniqueUser("notls");
  dovecot.addUser(user, "pw");
  return mailboxSettings(dovecot, user, "pw", {
    port: protocol === "IMAP" ? dovecot.imapPort : dovecot.pop3Port,
    acknowledge: protocol === "IMAP" ? { mode: "seen" } : { mode: "keep" },
    ...overrides,
  });
}

async function syncError(protocol: MailProtocol, settings: MailSourceSettings): Promise<MailSourceError> {
  const source = createMailSource(protocol, settings);
  try {
    await syncOnce(source, new MemorySyncStore());
  } catch (err) {
    if (err instanceof MailSourceError) return err;
    throw err;
  } finally {
    await source.close();
  }
  throw new Error("sync succeeded");
}

describe("a server without TLS", () => {
  for (const protocol of ["IMAP", "POP3"] as const) {
    it(`${protocol}: STARTTLS required but not offered is a TLS error, and nothing is sent in the clear`, async () => {
      const settings = settingsFor(protocol, { security: "starttls" });
      const err = await syncError(protocol, settings);
      expect(err.code).toBe("tls_error");
      expect(err.message).toMatch(/STARTTLS/);
      // no login was attempted over the plain connection
      expect(dovecot.logText()).not.toContain(`user=<${settings.login}>`);
    });

    it(`${protocol}: TLS spoken to the plain port is a TLS error naming the cause`, async () => {
      const err = await syncError(protocol, settingsFor(protocol, { security: "tls" }));
      expect(err.code).toBe("tls_error");
      expect(err.message).toContain("the server does not speak TLS on this port (wrong version number)");
    });
  }
});
