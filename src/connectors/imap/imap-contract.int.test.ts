import { startDovecot, type Dovecot } from "../../../test/support/dovecot.js";
import { startImapFaultProxy, type ImapFaultProxy } from "../../../test/support/imap-fault-proxy.js";
import { mailboxSettings, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { describeMailSourceContract } from "../../../test/support/mail-source-contract.js";
import { ImapSource } from "./imap-source.js";

/** The IMAP connector against a real Dovecot, through a proxy that can make Dovecot refuse a FETCH. */
describeMailSourceContract("IMAP", async () => {
  const dovecot: Dovecot = await startDovecot();
  const proxy: ImapFaultProxy = await startImapFaultProxy({ targetHost: dovecot.host, targetPort: dovecot.imapPort });
  return {
    async newMailbox() {
      const user = uniqueUser("imapc");
      const password = `pw-${user}`;
      dovecot.addUser(user, password);
      const settings = mailboxSettings(dovecot, user, password, { port: proxy.port });
      const uidOf = async (marker: string) => {
        for (const [uid, raw] of await dovecot.sources(user)) if (raw.includes(marker)) return uid;
        throw new Error(`no message with ${marker}`);
      };
      // one proxy serves the suite's mailboxes one after the other: the faults are this mailbox's
      proxy.faults.failFetchOf.clear();
      return {
        source: () => new ImapSource(settings),
        deliver: async (raw) => {
          await dovecot.append(user, raw);
        },
        unacknowledged: async () => {
          const flags = await dovecot.flags(user);
          const sources = await dovecot.sources(user);
          return [...flags].filter(([, f]) => !f.includes("\\Seen")).map(([uid]) => sources.get(uid)!);
        },
        refuseFetchOf: async (marker) => {
          proxy.faults.failFetchOf.add(await uidOf(marker));
        },
      };
    },
    async stop() {
      await proxy.stop();
      await dovecot.stop();
    },
  };
});
