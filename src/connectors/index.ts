import { EwsSender } from "./ews/ews-sender.js";
import { EwsSource } from "./ews/ews-source.js";
import { testEws } from "./ews/ews-tester.js";
import { GraphNotificationHub } from "./graph/graph-notifications.js";
import { GraphSender } from "./graph/graph-sender.js";
import { GraphSource } from "./graph/graph-source.js";
import { testGraph } from "./graph/graph-tester.js";
import { ImapSource } from "./imap/imap-source.js";
import { testImap } from "./imap/imap-tester.js";
import { MailSourceError, type MailSourceFactory, type MailSourceTester } from "./mail-source.js";
import { Pop3Source } from "./pop3/pop3-source.js";
import { testPop3 } from "./pop3/pop3-tester.js";
import type { MailSender } from "./mail-sender.js";
import { SmtpSender, testSmtp, type SmtpSenderSettings } from "./smtp/smtp-sender.js";

export * from "./mail-source.js";

/** What the connectors need beyond a mailbox's own settings. */
export interface ConnectorOptions {
  /** Microsoft Graph: where its notifications arrive (null: delta polling only), certificates trusted besides Node's, the deadline of each request */
  graph?: { hub: GraphNotificationHub | null; ca: string[] | undefined; timeoutMs: number };
  /** Exchange Web Services: certificates trusted besides Node's (a company CA), the deadline of each request, the poll interval without streaming notifications */
  ews?: { ca: string[] | undefined; timeoutMs: number; pollMs?: number };
}

const graphDefaults = { hub: null, ca: undefined, timeoutMs: 30_000 };
const ewsDefaults = { ca: undefined, timeoutMs: 30_000 };

/** The mailbox types Mailroom can read on this build (mailSourceFactory's). */
export const readableProtocols = ["IMAP", "POP3", "GRAPH", "EWS"] as const;

/** Builds the MailSource of a mailbox. */
export function mailSourceFactory(options: ConnectorOptions = {}): MailSourceFactory {
  const graph = options.graph ?? graphDefaults;
  const ews = options.ews ?? ewsDefaults;
  return (protocol, settings) => {
    switch (protocol) {
      case "IMAP":
        return new ImapSource(settings);
      case "POP3":
        return new Pop3Source(settings);
      case "GRAPH":
        return new GraphSource(settings, graph);
      case "EWS":
        return new EwsSource(settings, ews);
      default:
        throw new MailSourceError("protocol_error", `Mailroom cannot read ${String(protocol)} mailboxes.`);
    }
  };
}

/** Builds the MailSender of the outbound mailbox. */
export function mailSenderFactory(options: ConnectorOptions = {}): (protocol: string, settings: SmtpSenderSettings) => MailSender {
  const graph = options.graph ?? graphDefaults;
  const ews = options.ews ?? ewsDefaults;
  return (protocol, settings) => {
    if (protocol === "SMTP") return new SmtpSender(settings);
    if (protocol === "GRAPH") return new GraphSender({ host: settings.host, port: settings.port, login: settings.login, credentials: settings.credentials, ca: graph.ca, timeoutMs: graph.timeoutMs });
    if (protocol === "EWS") return new EwsSender({ ...settings, ca: ews.ca, allowInvalidCertificates: settings.tls?.rejectUnauthorized === false, timeoutMs: ews.timeoutMs });
    throw new Error(`Mailroom cannot send through ${protocol} mailboxes yet.`);
  };
}

/** The connection test of a mailbox: one step each for connect, authenticate and open folder (or STAT). */
export function mailSourceTester(options: ConnectorOptions = {}): MailSourceTester {
  const graph = options.graph ?? graphDefaults;
  const ews = options.ews ?? ewsDefaults;
  return async (protocol, settings, context) => {
    switch (protocol) {
      case "IMAP":
        return testImap(settings);
      case "POP3":
        return testPop3(settings);
      case "SMTP":
        return testSmtp(settings);
      case "GRAPH":
        return testGraph(settings, { ca: graph.ca, timeoutMs: graph.timeoutMs, outbound: context?.direction === "outbound" });
      case "EWS":
        return testEws(settings, ews);
      default:
        return [{ step: "connect", ok: false, ms: 0, message: `Mailroom cannot test ${String(protocol)} mailboxes.` }];
    }
  };
}

export const createMailSource = mailSourceFactory();
export const createMailSender = mailSenderFactory();
export const testMailSource = mailSourceTester();

export * from "./mail-sender.js";
export { GraphNotificationHub, SmtpSender, testSmtp, type SmtpSenderSettings };
