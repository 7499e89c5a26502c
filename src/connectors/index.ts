import { ImapSource } from "./imap/imap-source.js";
import { testImap } from "./imap/imap-tester.js";
import { MailSourceError, type MailSourceFactory, type MailSourceTester } from "./mail-source.js";
import { Pop3Source } from "./pop3/pop3-source.js";
import { testPop3 } from "./pop3/pop3-tester.js";
import type { MailSender } from "./mail-sender.js";
import { SmtpSender, testSmtp, type SmtpSenderSettings } from "./smtp/smtp-sender.js";

export * from "./mail-source.js";

/** Builds the MailSource of a mailbox; Graph and EWS come with their own connectors. */
export const createMailSource: MailSourceFactory = (protocol, settings) => {
  switch (protocol) {
    case "IMAP":
      return new ImapSource(settings);
    case "POP3":
      return new Pop3Source(settings);
    default:
      throw new MailSourceError("protocol_error", `Mailroom cannot read ${protocol} mailboxes yet.`);
  }
};

/** Builds the MailSender of the outbound mailbox; Graph and EWS come with their own connectors. */
export function createMailSender(protocol: string, settings: SmtpSenderSettings): MailSender {
  if (protocol !== "SMTP") throw new Error(`Mailroom cannot send through ${protocol} mailboxes yet.`);
  return new SmtpSender(settings);
}

/** The connection test of a mailbox: one step each for connect, authenticate and open folder (or STAT). */
export const testMailSource: MailSourceTester = async (protocol, settings) => {
  switch (protocol) {
    case "IMAP":
      return testImap(settings);
    case "POP3":
      return testPop3(settings);
    case "SMTP":
      return testSmtp(settings);
    default:
      return [{ step: "connect", ok: false, ms: 0, message: `Mailroom cannot test ${protocol} mailboxes yet.` }];
  }
};

export * from "./mail-sender.js";
export { SmtpSender, testSmtp, type SmtpSenderSettings };
