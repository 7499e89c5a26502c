import { isIP } from "node:net";
import { ImapFlow, type ImapFlowOptions } from "imapflow";
import type { Credential, MailSourceSettings } from "../mail-source.js";
import { serverWords } from "./imap-errors.js";

/**
 * Collects the server's words of the last failed command. imapflow answers a refused STORE or MOVE
 * with `false` and reports the reason only to its logger, so the logger is where we read it.
 */
export class ServerWordsLog {
  last: string | undefined;

  readonly logger = {
    // imapflow takes every level as wanted unless told: it then turns each response (a message's FETCH,
    // a thousand sizes) back into text for a log line that is thrown away, on the server's thread
    isLevelEnabled: (level: string): boolean => level === "warn" || level === "error",
    trace: (): void => {},
    debug: (): void => {},
    info: (): void => {},
    warn: (entry: unknown): void => this.capture(entry),
    error: (entry: unknown): void => this.capture(entry),
  };

  private capture(entry: unknown): void {
    if (!entry || typeof entry !== "object" || !("err" in entry)) return;
    const words = serverWords(entry.err);
    if (words) this.last = words;
  }
}

/** imapflow's options for a mailbox; auto-IDLE is off because the source drives IDLE itself. */
export function imapFlowOptions(settings: MailSourceSettings, log: ServerWordsLog, credential: Credential): ImapFlowOptions {
  const auth =
    credential.method === "password" ? { user: settings.login, pass: credential.password } : { user: settings.login, accessToken: credential.accessToken };
  const options: ImapFlowOptions = {
    host: settings.host,
    port: settings.port,
    secure: settings.security === "tls",
    auth,
    logger: log.logger,
    disableAutoIdle: true,
    // a deflate stream costs hundreds of KB per connection; the runner holds a thousand of them
    disableCompression: true,
    connectionTimeout: settings.connectTimeoutMs,
    greetingTimeout: settings.connectTimeoutMs,
    tls: { rejectUnauthorized: !settings.allowInvalidCertificates },
  };
  if (settings.security === "starttls") options.doSTARTTLS = true;
  if (settings.security === "none") options.doSTARTTLS = false;
  if (isIP(settings.host) === 0) options.servername = settings.host;
  return options;
}

/** A client that logs in with the credential the mailbox's provider gives now (an OAuth token is fetched on demand). */
export async function newImapClient(settings: MailSourceSettings, log: ServerWordsLog): Promise<ImapFlow> {
  return new ImapFlow(imapFlowOptions(settings, log, await settings.credentials.get()));
}

/** Settles with the promise, or rejects with `onTimeout()` after ms. */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
