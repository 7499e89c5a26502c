import { startMicrosoft, type Microsoft } from "../../../test/support/microsoft.js";
import { uniqueUser } from "../../../test/support/mail-fixtures.js";
import { describeMailSourceContract } from "../../../test/support/mail-source-contract.js";
import { TokenService } from "../../oauth/token-service.js";
import { createLogger } from "../../logger.js";
import { trustedCa } from "../../shared/https-request.js";
import { GraphSource } from "./graph-source.js";

/**
 * The Graph connector against the Microsoft emulator, with tokens the real MSAL got from its Entra ID:
 * the same contract as IMAP and POP3. A message the emulator is told to refuse answers $value with a 500
 * (a corrupt item), the way Exchange refuses one it cannot read.
 */
describeMailSourceContract("Microsoft Graph", async () => {
  const ms: Microsoft = await startMicrosoft();
  const tokens = new TokenService({ timeoutMs: 10_000, extraCa: ms.emulator.caPem, log: createLogger("silent") });
  return {
    async newMailbox() {
      const user = uniqueUser("graph");
      await ms.addUser(user);
      const credentials = tokens.credentials(ms.account({ protocol: "GRAPH", username: user }));
      const settings = ms.mailboxSettings(user, credentials);
      return {
        source: () => new GraphSource(settings, { hub: null, ca: trustedCa(ms.emulator.caPem), timeoutMs: 10_000 }),
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
