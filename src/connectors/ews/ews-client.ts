import http from "node:http";
import https from "node:https";
import { Semaphore } from "../../shared/semaphore.js";
import { sleep } from "../../shared/sleep.js";
import { MailSourceError, type Credential, type CredentialProvider, type MailSourceSettings } from "../mail-source.js";
import { networkError } from "../network-errors.js";
import { AbortedError, ewsHttp, type EwsHttpAnswer } from "./ews-http.js";
import { envelope, parseAnswerText, parseXml, readAnswer, takeEnvelopes, type ParsedAnswer, type ResponseMessage, type SoapFault, type XmlNode } from "./ews-xml.js";
import { ntlmAuthenticate, ntlmNegotiate, ntlmUser, parseChallenge } from "./ntlm.js";

export interface EwsClientOptions {
  /** https://exchange.example.com/EWS/Exchange.asmx */
  url: URL;
  /** the login (user@domain, DOMAIN\user) for a password; the mailbox's address for OAuth 2.0 */
  login: string;
  credentials: CredentialProvider;
  ca: string[] | undefined;
  allowInvalidCertificates: boolean;
  timeoutMs: number;
  /**
   * How long a request keeps being retried while Exchange throttles it (ErrorServerBusy) before the error
   * reaches the runner. Throttling asks for patience, not a new login: the default waits it out.
   */
  retryBudgetMs?: number;
  signal?: AbortSignal;
  /** shared by the clients of one mailbox: Exchange's back-off holds for the mailbox, not one connection */
  throttle?: Throttle;
}

/** until when no request of the mailbox goes out (epoch ms): Exchange asked for a back-off */
export interface Throttle {
  pausedUntil: number;
}

/** the EWS endpoint of a mailbox: https://host[:port]/EWS/Exchange.asmx (http when security is none) */
export function ewsUrl(settings: Pick<MailSourceSettings, "host" | "port" | "security">): URL {
  const secure = settings.security !== "none";
  const standard = secure ? 443 : 80;
  return new URL(`${secure ? "https" : "http"}://${settings.host}${settings.port === standard ? "" : `:${settings.port}`}/EWS/Exchange.asmx`);
}

/** The client of a mailbox's settings: its endpoint, login, credential and certificate rule */
export function ewsClientFor(
  settings: Pick<MailSourceSettings, "host" | "port" | "security" | "login" | "credentials" | "allowInvalidCertificates">,
  options: Pick<EwsClientOptions, "ca" | "timeoutMs" | "retryBudgetMs" | "signal" | "throttle">,
): EwsClient {
  return new EwsClient({ url: ewsUrl(settings), login: settings.login, credentials: settings.credentials, allowInvalidCertificates: settings.allowInvalidCertificates, ...options });
}

type Scheme = "ntlm" | "basic" | "bearer";

/** BackOffMilliseconds Exchange asks for can be minutes; each wait is capped so a stop is never far off */
const maxBackOffMs = 5 * 60_000;

/**
 * The SOAP calls of one EWS mailbox over one connection. Signs in with the mailbox's credential:
 * NTLM when the server offers it (the password never crosses the wire), else Basic over TLS only, or
 * an OAuth 2.0 bearer token (with ExchangeImpersonation for an application's token). One request at a
 * time, because NTLM authenticates the connection; Exchange's throttling (ErrorServerBusy with
 * BackOffMilliseconds, HTTP 503) is waited out for the whole mailbox before the next request.
 */
export class EwsClient {
  readonly #options: EwsClientOptions;
  readonly #agent: http.Agent;
  readonly #turn = new Semaphore(1);
  #scheme: Scheme | null = null;
  /** NTLM: the connection has signed in; later requests on it carry no header until Exchange asks again */
  #connectionSignedIn = false;
  readonly #throttle: Throttle;

  constructor(options: EwsClientOptions) {
    this.#options = options;
    this.#throttle = options.throttle ?? { pausedUntil: 0 };
    const agentOptions = { keepAlive: true, maxSockets: 1 };
    this.#agent = options.url.protocol === "https:" ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  get host(): string {
    return this.#options.url.host;
  }

  /** One operation; answers its response messages in order, throws MailSourceError when there was no usable answer. */
  async call(body: string): Promise<ResponseMessage[]> {
    const giveUpAt = Date.now() + (this.#options.retryBudgetMs ?? 120_000);
    for (let attempt = 1; ; attempt++) {
      const paused = this.#throttle.pausedUntil - Date.now();
      if (paused > 0) await sleep(paused, this.#options.signal);
      if (this.#options.signal?.aborted) throw new MailSourceError("closed", "The mailbox was stopped.");
      const answer = await this.#turn.run(() => this.#send(body, this.#options.timeoutMs));
      const parsed = this.#read(answer);
      const busy = busyOf(parsed);
      const retryAfter = busy ? backOffOf(busy.values) : answer.status === 503 ? retryAfterOf(answer, attempt) : null;
      if (retryAfter !== null) {
        if (Date.now() + retryAfter > giveUpAt) {
          const said = busy ? `${busy.code}: ${busy.text}` : `HTTP ${answer.status}`;
          throw new MailSourceError("throttled", `Exchange at ${this.host} kept throttling requests for ${this.#options.login}; Mailroom will try again.`, said);
        }
        // Exchange's BackOffMilliseconds is for the whole mailbox, not this request alone
        this.#throttle.pausedUntil = Math.max(this.#throttle.pausedUntil, Date.now() + retryAfter);
        continue;
      }
      if (parsed.fault) throw new MailSourceError("protocol_error", `Exchange at ${this.host} refused the request: ${parsed.fault.text}`, `${parsed.fault.code}: ${parsed.fault.text}`);
      return parsed.messages;
    }
  }

  /**
   * GetStreamingEvents: hands over each envelope's response messages as they arrive, until the server
   * closes the answer or `signal` fires. Throws as call() does when the request gets no stream.
   */
  async stream(body: string, signal: AbortSignal, onMessages: (messages: ResponseMessage[]) => void): Promise<void> {
    let buffered = "";
    const decoder = new TextDecoder();
    // an envelope that cannot be read ends the stream: thrown inside the socket's data event it would end the process
    const unreadable = new AbortController();
    const broken: { reason: string | null } = { reason: null };
    const onChunk = (chunk: Buffer) => {
      if (broken.reason !== null) return;
      try {
        const split = takeEnvelopes(buffered + decoder.decode(chunk, { stream: true }));
        buffered = split.rest;
        for (const e of split.envelopes) onMessages(readAnswer(parseXml(e)).messages);
      } catch (err) {
        broken.reason = err instanceof Error ? err.message : String(err);
        unreadable.abort();
      }
    };
    let answer: EwsHttpAnswer;
    try {
      const paused = this.#throttle.pausedUntil - Date.now();
      if (paused > 0) await sleep(paused, signal);
      if (signal.aborted) return;
      // the stream's own wait bounds it, so the socket deadline is generous
      answer = await this.#turn.run(() => this.#send(body, 31 * 60_000, { signal: AbortSignal.any([signal, unreadable.signal]), onChunk }));
    } catch (err) {
      if (broken.reason !== null) throw new MailSourceError("protocol_error", `Exchange at ${this.host} sent a notification Mailroom cannot read: ${broken.reason}`);
      if (signal.aborted) return;
      throw err;
    }
    if (answer.status === 200 && answer.body.length === 0) return;
    const parsed = this.#read(answer);
    const busy = busyOf(parsed);
    if (busy || answer.status === 503) {
      // the runner backs off; the next request of this mailbox waits at least what Exchange asked
      this.#throttle.pausedUntil = Math.max(this.#throttle.pausedUntil, Date.now() + Math.max(1000, busy ? backOffOf(busy.values) : retryAfterOf(answer, 1)));
      throw new MailSourceError("throttled", `Exchange at ${this.host} is throttling ${this.#options.login}'s notifications.`, busy ? `${busy.code}: ${busy.text}` : `HTTP ${answer.status}`);
    }
    if (parsed.fault) throw new MailSourceError("protocol_error", `Exchange at ${this.host} refused the notification stream: ${parsed.fault.text}`, `${parsed.fault.code}: ${parsed.fault.text}`);
    onMessages(parsed.messages);
  }

  close(): void {
    this.#agent.destroy();
  }

  /** Sends one envelope, signing in as the server asks; answers the last HTTP answer. */
  async #send(body: string, timeoutMs: number, streaming?: { signal: AbortSignal; onChunk: (c: Buffer) => void }): Promise<EwsHttpAnswer> {
    let refreshed = false;
    for (let round = 0; round < 4; round++) {
      const credential = await this.#options.credentials.get();
      const impersonate = credential.method === "xoauth2" && credential.appOnly === true ? this.#options.login : null;
      const payload = Buffer.from(envelope(body, impersonate), "utf8");
      let scheme = this.#scheme ?? (credential.method === "xoauth2" ? "bearer" : "ntlm");
      let authorization: string | null;
      if (scheme === "bearer") authorization = `Bearer ${credential.method === "xoauth2" ? credential.accessToken : ""}`;
      else if (scheme === "basic") authorization = basic(this.#options.login, credential);
      else if (this.#connectionSignedIn) authorization = null;
      else {
        const handshake = await this.#ntlmHandshake(credential);
        // no challenge but an answer (a front end's 503, throttling): the caller deals with it and sends again
        if ("answer" in handshake) return handshake.answer;
        authorization = handshake.authorization;
        // the handshake found that Exchange offers Basic only
        if (this.#scheme === "basic") scheme = "basic";
      }
      const answer = await this.#http(payload, authorization, credential, timeoutMs, streaming);
      if (answer.status !== 401) {
        if (scheme === "ntlm") this.#connectionSignedIn = true;
        this.#scheme = scheme;
        return answer;
      }
      if (scheme === "ntlm" && this.#connectionSignedIn) {
        // the signed-in connection was closed and a new one opened: sign it in
        this.#connectionSignedIn = false;
        continue;
      }
      if (scheme === "bearer" && !refreshed) {
        this.#options.credentials.refused();
        refreshed = true;
        continue;
      }
      if (scheme === "ntlm" && this.#scheme === null && !answer.challenges.some((c) => /^ntlm\b/i.test(c)) && answer.challenges.some((c) => /^basic\b/i.test(c))) {
        this.#useBasic();
        continue;
      }
      this.#options.credentials.refused();
      throw new MailSourceError("auth_failed", refusalMessage(scheme, this.#options.login, this.host), `HTTP 401 ${answer.challenges.join("; ")}`.trim());
    }
    throw new MailSourceError("auth_failed", `Exchange at ${this.host} kept asking ${this.#options.login} to sign in again.`);
  }

  /** Exchange offers only Basic: allowed over TLS alone, where the password is not readable on the way */
  #useBasic(): void {
    if (this.#options.url.protocol !== "https:") {
      throw new MailSourceError(
        "auth_failed",
        `Exchange at ${this.host} offers only Basic sign-in, which would send the password unencrypted over http: use security tls (https), or enable NTLM on the EWS virtual directory.`,
      );
    }
    this.#scheme = "basic";
  }

  /**
   * NTLM's first two legs on this connection: the Authorization of the third, which carries the request, or
   * the answer Exchange gave instead of a challenge.
   */
  async #ntlmHandshake(credential: Credential): Promise<{ authorization: string } | { answer: EwsHttpAnswer }> {
    const empty = Buffer.alloc(0);
    const answer = await this.#http(empty, `NTLM ${ntlmNegotiate()}`, credential, this.#options.timeoutMs);
    if (answer.status !== 401) return { answer };
    const challenge = answer.challenges.map((c) => /^ntlm\s+(\S+)/i.exec(c)?.[1]).find((c) => c !== undefined);
    if (challenge) {
      let parsed: ReturnType<typeof parseChallenge>;
      try {
        parsed = parseChallenge(challenge);
      } catch (err) {
        throw new MailSourceError("protocol_error", `Exchange at ${this.host} sent an NTLM challenge Mailroom cannot read: ${err instanceof Error ? err.message : String(err)}`);
      }
      return { authorization: `NTLM ${ntlmAuthenticate(parsed, { ...ntlmUser(this.#options.login), password: passwordOf(credential) })}` };
    }
    if (this.#scheme === null && answer.challenges.some((c) => /^basic\b/i.test(c))) {
      this.#useBasic();
      return { authorization: basic(this.#options.login, credential) };
    }
    throw new MailSourceError("auth_failed", `Exchange at ${this.host} offers neither NTLM nor Basic sign-in for ${this.#options.login}.`, answer.challenges.join("; "));
  }

  async #http(payload: Buffer, authorization: string | null, credential: Credential, timeoutMs: number, streaming?: { signal: AbortSignal; onChunk: (c: Buffer) => void }): Promise<EwsHttpAnswer> {
    const headers: Record<string, string> = { "content-type": "text/xml; charset=utf-8", accept: "text/xml", "user-agent": "Mailroom" };
    if (authorization !== null) headers.authorization = authorization;
    if (credential.method === "xoauth2") headers["x-anchormailbox"] = this.#options.login;
    const signal = streaming ? AbortSignal.any([streaming.signal, ...(this.#options.signal ? [this.#options.signal] : [])]) : this.#options.signal;
    const url = this.#options.url;
    try {
      return await ewsHttp({
        url,
        headers,
        body: payload,
        agent: this.#agent,
        ca: this.#options.ca,
        rejectUnauthorized: !this.#options.allowInvalidCertificates,
        timeoutMs,
        signal,
        ...(streaming ? { onChunk: streaming.onChunk } : {}),
      });
    } catch (err) {
      if (err instanceof AbortedError) {
        // the socket went with the request: the next one signs in on a new connection
        this.#connectionSignedIn = false;
        throw new MailSourceError("closed", "The mailbox was stopped.");
      }
      const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
      throw (
        networkError(err, { host: url.hostname, port, connectTimeoutMs: timeoutMs }) ??
        new MailSourceError("timeout", `Exchange at ${url.host} did not answer: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err })
      );
    }
  }

  #read(answer: EwsHttpAnswer): ParsedAnswer {
    const type = String(answer.headers["content-type"] ?? "");
    if (answer.status === 503) return { messages: [], fault: null };
    let parsed: { doc: XmlNode; lifted: string[] } | null = null;
    if (/xml/i.test(type) || answer.body.subarray(0, 64).toString("utf8").trimStart().startsWith("<")) {
      try {
        parsed = parseAnswerText(answer.body.toString("utf8"));
      } catch {
        parsed = null;
      }
    }
    if (parsed === null) throw new MailSourceError("protocol_error", `Exchange at ${this.host} answered HTTP ${answer.status} without SOAP: is ${this.#options.url.pathname} its EWS endpoint?`, `HTTP ${answer.status}`);
    if (answer.status === 403) throw new MailSourceError("consent_required", `Exchange at ${this.host} forbids ${this.#options.login} to use EWS.`, `HTTP 403`);
    try {
      return readAnswer(parsed.doc, parsed.lifted);
    } catch {
      throw new MailSourceError("protocol_error", `Exchange at ${this.host} answered HTTP ${answer.status} with XML that is not a SOAP envelope.`, `HTTP ${answer.status}`);
    }
  }
}

/** Exchange's throttling answer, as a SOAP fault or in a response message */
function busyOf(parsed: ParsedAnswer): SoapFault | ResponseMessage | undefined {
  return parsed.fault?.code === "ErrorServerBusy" ? parsed.fault : parsed.messages.find((m) => m.code === "ErrorServerBusy");
}

function basic(login: string, credential: Credential): string {
  return `Basic ${Buffer.from(`${login}:${passwordOf(credential)}`, "utf8").toString("base64")}`;
}

function passwordOf(credential: Credential): string {
  return credential.method === "password" ? credential.password : "";
}

function backOffOf(values: Record<string, string>): number {
  const ms = Number(values.BackOffMilliseconds);
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, maxBackOffMs) : 1000;
}

function retryAfterOf(answer: EwsHttpAnswer, attempt: number): number {
  const seconds = Number(answer.headers["retry-after"]);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, maxBackOffMs);
  return Math.min(1000 * 2 ** (attempt - 1), 30_000);
}

function refusalMessage(scheme: Scheme, login: string, host: string): string {
  if (scheme === "bearer") return `Exchange at ${host} refused the access token for ${login}: the app needs full_access_as_app (or EWS.AccessAsUser.All for a user's token) with admin consent.`;
  return `Exchange at ${host} refused the login ${login} (${scheme === "ntlm" ? "NTLM" : "Basic"}): check the login and password.`;
}
