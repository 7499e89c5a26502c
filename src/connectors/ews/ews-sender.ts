import { MailSendError, SendsInFlight, sendErrorOf, withBcc, type MailSender, type OutboundMessage, type SendReceipt } from "../mail-sender.js";
import { MailSourceError, type MailSourceSettings } from "../mail-source.js";
import { ewsClientFor, type EwsClient } from "./ews-client.js";
import { sendMime } from "./ews-operations.js";

export type EwsSenderSettings = Pick<MailSourceSettings, "host" | "port" | "security" | "login" | "credentials"> & {
  ca: string[] | undefined;
  allowInvalidCertificates: boolean;
  timeoutMs: number;
};

/** Exchange refuses these for the message itself: sending it again gets the same answer */
const refusedCodes = new Set(["ErrorInvalidRecipients", "ErrorMimeContentConversionFailed", "ErrorMessageSizeExceeded", "ErrorSendAsDenied", "ErrorInvalidSender", "ErrorQuotaExceeded"]);

/**
 * Sends through EWS as the outbound mailbox: CreateItem with the message as MIME and SendAndSaveCopy, so
 * the composer's bytes go out as they are and a copy lands in Sent Items. Exchange takes recipients from
 * the headers, so envelope recipients the headers do not name (Bcc) go in as a Bcc header, which
 * Exchange removes on delivery.
 */
export class EwsSender implements MailSender {
  readonly #client: EwsClient;
  readonly #login: string;
  readonly #sends = new SendsInFlight("EWS");

  constructor(settings: EwsSenderSettings) {
    this.#login = settings.login;
    this.#client = ewsClientFor(settings, settings);
  }

  async send(message: OutboundMessage): Promise<SendReceipt> {
    const sending = this.#sends.start(message, () => this.#client.call(sendMime(withBcc(message.raw, message.envelope.to))));
    try {
      const [answer] = await sending;
      if (answer === undefined) throw new MailSendError("protocol_error", `Exchange at ${this.#client.host} answered CreateItem without a response message.`, { retry: true });
      if (answer.responseClass === "Error") {
        const said = `${answer.code}: ${answer.text}`;
        if (refusedCodes.has(answer.code)) throw new MailSendError("rejected", `Exchange refused the message from ${this.#login}: ${said}`, { retry: false, serverText: said });
        if (answer.code === "ErrorAccessDenied" || answer.code === "ErrorImpersonateUserDenied" || answer.code === "ErrorNonExistentMailbox") {
          throw new MailSendError("auth_failed", `Exchange would not let ${this.#login} send: ${said}`, { retry: true, serverText: said });
        }
        throw new MailSendError("temporary", `Exchange could not send as ${this.#login} now: ${said}`, { retry: true, serverText: said });
      }
      return { response: `${answer.code} Sent by Exchange (EWS)`, accepted: [...message.envelope.to], rejected: [] };
    } catch (err) {
      throw sendError(err);
    }
  }

  async close(): Promise<void> {
    await this.#sends.close();
    this.#client.close();
  }
}

function sendError(err: unknown): MailSendError {
  if (err instanceof MailSendError) return err;
  if (err instanceof MailSourceError) return sendErrorOf(err);
  return new MailSendError("protocol_error", err instanceof Error ? err.message : String(err), { retry: true, cause: err });
}
