import { MailSendError, SendsInFlight, sendErrorOf, withBcc, type MailSender, type OutboundMessage, type SendReceipt } from "../mail-sender.js";
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
  readonly #sends = new SendsInFlight("Graph");

  constructor(private readonly settings: GraphSenderSettings) {
    const port = settings.port === 443 ? "" : `:${settings.port}`;
    this.#client = new GraphClient({ baseUrl: `https://${settings.host}${port}`, login: settings.login, credentials: settings.credentials, ca: settings.ca, timeoutMs: settings.timeoutMs });
  }

  async send(message: OutboundMessage): Promise<SendReceipt> {
    const raw = withBcc(message.raw, message.envelope.to);
    const sending = this.#sends.start(message, () =>
      this.#client.request("POST", this.#client.userPath("/sendMail"), { body: raw.toString("base64"), headers: { "content-type": "text/plain" } }),
    );
    try {
      const answer = await sending;
      return { response: `${answer.status} Accepted by Microsoft Graph`, accepted: [...message.envelope.to], rejected: [] };
    } catch (err) {
      throw sendError(err, this.settings.login);
    }
  }

  async close(): Promise<void> {
    await this.#sends.close();
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
