import { startMicrosoft, type Microsoft } from "../../../test/support/microsoft.js";
import { uniqueUser } from "../../../test/support/mail-fixtures.js";
import { describeMailSourceContract } from "../../../test/support/mail-source-contract.js";
import { trustedCa } from "../../shared/https-request.js";
import { fixedCredential } from "../mail-source.js";
import { EwsSource } from "./ews-source.js";

/**
 * The EWS connector against the emulator's Exchange, signing in with NTLM as on an Exchange Server:
 * the same contract as IMAP, POP3 and Graph. A message the emulator is told to refuse answers GetItem
 * with ErrorCorruptData, the way Exchange refuses an item it cannot convert.
 */
describeMailSourceContract("Exchange Web Services", async () => {
  const ms: Microsoft = await startMicrosoft();
  return {
    async newMailbox() {
      const user = uniqueUser("ews");
      const password = `${user}-secret`;
      await ms.addUser(user, password);
      const settings = ms.mailboxSettings(user, fixedCredential({ method: "password", password }));
      return {
        source: () => new EwsSource(settings, { ca: trustedCa(ms.emulator.caPem), timeoutMs: 10_000 }),
        deliver: async (raw) => {
          await ms.deliver(user, typeof raw === "string" ? Buffer.from(raw) : raw);
        },
        unacknowledged: () => ms.unread(user),
        refuseFetchOf: async (marker) => {
          await ms.control("/_emulator/refuse", { user, marker });
        },
      };
    },
    stop: () => ms.stop(),
  };
});
