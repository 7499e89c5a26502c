import { startMicrosoft, type Microsoft } from "../../../test/support/microsoft.js";
import { uniqueUser } from "../../../test/support/mail-fixtures.js";
import { describeMailSourceContract } from "../../../test/support/mail-source-contract.js";
import { trustedCa } from "../../shared/https-request.js";
import { fixedCredential, type MailSourceSettings } from "../mail-source.js";
import { EwsSource } from "./ews-source.js";

/**
 * The EWS connector against the emulator's Exchange, signing in with NTLM as on an Exchange Server:
 * the same contract as IMAP, POP3 and Graph. A message the emulator is told to refuse answers GetItem
 * with ErrorCorruptData, the way Exchange refuses an item it cannot convert.
 */
describeMailSourceContract("Exchange Web Services", async () => {
  const ms: Microsoft = await startMicrosoft();
  const port = Number(new URL(ms.url).port);
  return {
    async newMailbox() {
      const user = uniqueUser("ews");
      const password = `${user}-secret`;
      await ms.addUser(user, password);
      const settings: MailSourceSettings = {
        mailboxId: `mb-${user}`,
        host: "127.0.0.1",
        port,
        security: "tls",
        login: user,
        credentials: fixedCredential({ method: "password", password }),
        folder: "INBOX",
        acknowledge: { mode: "seen" },
        initialImport: "all",
        connectTimeoutMs: 10_000,
        allowInvalidCertificates: false,
      };
      return {
        source: () => new EwsSource(settings, { ca: trustedCa(ms.emulator.caPem), timeoutMs: 10_000 }),
        deliver: async (raw) => {
          await ms.deliver(user, typeof raw === "string" ? Buffer.from(raw) : raw);
        },
        unacknowledged: async () => {
          const list = (await ms.get(`/_emulator/messages?user=${encodeURIComponent(user)}`)) as { isRead: boolean; mimeBase64: string }[];
          return list.filter((m) => !m.isRead).map((m) => Buffer.from(m.mimeBase64, "base64"));
        },
        refuseFetchOf: async (marker) => {
          await ms.control("/_emulator/refuse", { user, marker });
        },
      };
    },
    stop: () => ms.stop(),
  };
});
