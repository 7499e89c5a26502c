import { MailSendError, sendErrorOf, withBcc, type MailSender, type OutboundMessage, type SendReceipt } from "../mail-sender.js";
import { MailSourceError, type CredentialProvider } from "../mail-source.js";
import { GraphClient, GraphRequestError } from "./graph-client.js";

export interface GraphSenderSettings {
  host: string;
  port: number;
  login: string;
  credentials: CredentialProvider;
  ca: string[] | undefined;
  timeoutMs: number;
}

/**
 * Sends through Microsoft Graph's sendMail as the outbound mailbox's user, with the message as MIME
 * (https://learn.microsoft.com/graph/api/user-sendmail#example-4-send-a-new-message-using-mime-format):
 * our composer's bytes go out as they are. Graph takes recipients from the headers, so envelope
 * recipients the headers do not name (Bcc) are added as a Bcc header, which Exchange removes on delivery.
 */
export class GraphSender implements MailSender {
  readonly #client: GraphClient;
  #closed = false;
  #inFlight = new Set<Promise<unknown>>();

  constructor(private readonly settings: GraphSenderSettings) {
    const port = settings.port === 443 ? "" : `:${settings.port}`;
    this.#client = new GraphClient({ baseUrl: `https://${settings.host}${port}`, login: settings.login, credentials: settings.credentials, ca: settings.ca, timeoutMs: settings.timeoutMs });
  }

  async send(message: OutboundMessage): Promise<SendReceipt> {
    if (this.#closed) throw new MailSendError("closed", "The Graph sender is closed.", { retry: true });
    if (message.envelope.to.length === 0) throw new MailSendError("invalid_message", "The message has no recipient.", { retry: false });
    const raw = withBcc(message.raw, message.envelope.to);
    const sending = this.#client.request("POST", this.#client.userPath("/sendMail"), { body: raw.toString("base64"), headers: { "content-type": "text/plain" } });
    this.#inFlight.add(sending);
    try {
      const answer = await sending;
      return { response: `${answer.status} Accepted by Microsoft Graph`, accepted: [...message.envelope.to], rejected: [] };
    } catch (err) {
      throw sendError(err, this.settings.login);
    } finally {
      this.#inFlight.delete(sending);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    this.#client.close();
  }
}

function sendError(err: unknown, login: string): MailSendError {
  if (err instanceof MailSourceError) return sendErrorOf(err);
  if (err instanceof GraphRequestError) {
    const said = err.graph ? `${err.graph.code}: ${err.graph.message}` : `HTTP ${err.status}`;
    if (err.status >= 500) return new MailSendError("temporary", `Microsoft Graph could not send as ${login} now: ${said}`, { retry: true, serverText: said });
    return new MailSendError("rejected", `Microsoft Graph refused the message from ${login}: ${said}`, { retry: false, serverText: said });
  }
  return new MailSendError("protocol_error", err instanceof Error ? err.message : String(err), { retry: true, cause: err });
}
