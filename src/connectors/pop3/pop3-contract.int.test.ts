import { startDovecot, type Dovecot } from "../../../test/support/dovecot.js";
import { mailboxSettings, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { describeMailSourceContract } from "../../../test/support/mail-source-contract.js";
import { Pop3Source } from "./pop3-source.js";

/**
 * The POP3 connector against a real Dovecot. A message whose file Dovecot cannot read is one it
 * refuses to hand over (`-ERR Message 2 expunged.`): the real thing.
 */
describeMailSourceContract("POP3", async () => {
  const dovecot: Dovecot = await startDovecot();
  return {
    async newMailbox() {
      const user = uniqueUser("pop3c");
      const password = `pw-${user}`;
      dovecot.addUser(user, password);
      const settings = mailboxSettings(dovecot, user, password, { port: dovecot.pop3Port, acknowledge: { mode: "delete" } });
      return {
        source: () => new Pop3Source(settings),
        deliver: async (raw) => {
          await dovecot.append(user, raw);
        },
        // what is still in the maildir is not acknowledged (deleted) yet, read from disk where Dovecot cannot read
        // an unreadable one; Dovecot keeps line ends as LF on disk and hands them out as CRLF
        unacknowledged: async () => dovecot.maildirMessages(user).map((raw) => Buffer.from(raw.toString("latin1").replace(/\r?\n/g, "\r\n"), "latin1")),
        refuseFetchOf: async (marker) => {
          dovecot.makeUnreadable(user, marker);
        },
      };
    },
    stop: () => dovecot.stop(),
  };
});
