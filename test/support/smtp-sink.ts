import type net from "node:net";
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from "smtp-server";
import { listenOnLoopback } from "./net.js";

/** Where a scripted fault strikes: the greeting, MAIL FROM, RCPT TO, or the end of the message data. */
export type SmtpStage = "connect" | "mail" | "rcpt" | "data";

export interface SinkMessage {
  from: string;
  to: string[];
  /** the message as the server received it, dot-unstuffed, byte for byte */
  raw: Buffer;
  /** the SMTP session it came on; one per TCP connection */
  connectionId: string;
  /** the user the session logged in as, null without a login */
  user: string | null;
}

export interface SinkLogin {
  connectionId: string;
  method: string;
  user: string;
  /** the password or the access token the client presented */
  secret: string;
  accepted: boolean;
}

export interface SmtpSinkOptions {
  /**
   * Without it the server offers no AUTH and takes mail from anyone. With it every transaction needs a
   * login as `user`: PLAIN and LOGIN with `password`, XOAUTH2 with one of `accessTokens`.
   */
  auth?: {
    user: string;
    password?: string;
    accessTokens?: Iterable<string>;
    /** XOAUTH2 tokens not in accessTokens are accepted when this says yes (an issuer's introspection) */
    verifyToken?: (user: string, token: string) => Promise<boolean>;
  };
  /** offer STARTTLS with smtp-server's built-in self-signed certificate (clients must not verify it) */
  starttls?: boolean;
}

export interface SmtpSink {
  host: "127.0.0.1";
  port: number;
  /** every message the server took, in order */
  readonly messages: SinkMessage[];
  /** every login attempt, in order */
  readonly logins: SinkLogin[];
  /** the XOAUTH2 tokens accepted now; tests add and revoke them */
  readonly accessTokens: Set<string>;
  /** SMTP sessions opened so far */
  readonly connectionCount: number;
  /** Answers the next `times` (1) commands of that stage with `code message`; a 421 also closes the connection. */
  failNext(fault: { stage: SmtpStage; code: number; message?: string; times?: number }): void;
  /** Destroys the socket instead of answering the next `times` (1) commands of that stage ("data": once the data is in). */
  dropNext(fault: { stage: SmtpStage; times?: number }): void;
  /** RCPT TO for this address (any case) is answered `code message` until the sink closes. */
  rejectRecipient(address: string, code: number, message?: string): void;
  /** resolves once no client connection is open, e.g. after a client said QUIT and hung up */
  allClosed(): Promise<void>;
  close(): Promise<void>;
}

type Fault = { stage: SmtpStage; remaining: number; action: { kind: "fail"; code: number; message: string } | { kind: "drop" } };

/**
 * An SMTP server (smtp-server, plain TCP on 127.0.0.1, an ephemeral port) that records what it is sent
 * and misbehaves on request: the outbound connectors' test peer.
 */
export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const logins: SinkLogin[] = [];
  const accessTokens = new Set(opts.auth?.accessTokens ?? []);
  const faults: Fault[] = [];
  const rejected = new Map<string, { code: number; message: string }>();
  // smtp-server keeps its sockets to itself; they are found by the client's port (every client is on 127.0.0.1)
  const sockets = new Map<number, net.Socket>();
  let connectionCount = 0;
  const whenAllClosed: (() => void)[] = [];

  const take = (stage: SmtpStage): Fault["action"] | null => {
    const index = faults.findIndex((f) => f.stage === stage);
    const fault = faults[index];
    if (!fault) return null;
    if (--fault.remaining <= 0) faults.splice(index, 1);
    return fault.action;
  };
  const replyError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });
  const drop = (session: SMTPServerSession) => sockets.get(session.remotePort)?.destroy();
  /** Applies the stage's next fault; true when it answered or dropped, so the command goes no further. */
  const faulted = (stage: SmtpStage, session: SMTPServerSession, callback: (err?: Error | null) => void): boolean => {
    const action = take(stage);
    if (!action) return false;
    if (action.kind === "drop") drop(session);
    else callback(replyError(action.code, action.message));
    return true;
  };

  const methods: string[] = [];
  if (opts.auth?.password !== undefined) methods.push("PLAIN", "LOGIN");
  if (opts.auth?.accessTokens !== undefined || opts.auth?.verifyToken !== undefined) methods.push("XOAUTH2");

  const onAuth = (auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: { user?: string; data?: object }) => void) => {
    const user = auth.username ?? "";
    const xoauth2 = auth.method === "XOAUTH2";
    const secret = (xoauth2 ? auth.accessToken : auth.password) ?? "";
    const decide = (accepted: boolean) => {
      logins.push({ connectionId: session.id, method: auth.method, user, secret, accepted });
      if (accepted) return callback(null, { user });
      // XOAUTH2 is refused with a 334 challenge carrying this JSON, as Microsoft 365 and Gmail do; the client answers it with an empty line
      if (xoauth2) return callback(null, { data: { status: "401", schemes: "bearer", scope: "https://outlook.office365.com/.default" } });
      return callback(replyError(535, "5.7.8 Authentication credentials invalid"));
    };
    if (user !== opts.auth?.user) return decide(false);
    if (!xoauth2) return decide(secret === opts.auth.password);
    if (accessTokens.has(secret) || !opts.auth.verifyToken) return decide(accessTokens.has(secret));
    opts.auth.verifyToken(user, secret).then(decide, () => decide(false));
  };

  const server = new SMTPServer({
    secure: false,
    // STARTTLS uses smtp-server's built-in certificate; logger false also keeps its warning about that certificate quiet
    disabledCommands: [...(opts.starttls ? [] : ["STARTTLS"]), ...(opts.auth ? [] : ["AUTH"])],
    logger: false,
    authMethods: methods.length ? methods : ["PLAIN"],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    maxAllowedUnauthenticatedCommands: false,
    onConnect(session, callback) {
      connectionCount++;
      if (!faulted("connect", session, callback)) callback();
    },
    onAuth,
    onMailFrom(_address, session, callback) {
      if (!faulted("mail", session, callback)) callback();
    },
    onRcptTo(address, session, callback) {
      if (faulted("rcpt", session, callback)) return;
      const refusal = rejected.get(address.address.toLowerCase());
      callback(refusal ? replyError(refusal.code, refusal.message) : null);
    },
    onData(stream, session, callback) {
      const action = take("data");
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        if (action?.kind === "drop") {
          drop(session);
          return callback(replyError(451, "dropped"));
        }
        if (action?.kind === "fail") return callback(replyError(action.code, action.message));
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          connectionId: session.id,
          user: typeof session.user === "string" ? session.user : null,
        });
        callback(null, `Ok: queued as ${messages.length}`);
      });
    },
  });
  server.on("error", () => undefined); // a client that vanishes mid-command is what some tests do on purpose
  server.server.on("connection", (socket: net.Socket) => {
    const port = socket.remotePort;
    if (port === undefined) return;
    sockets.set(port, socket);
    socket.once("close", () => {
      sockets.delete(port);
      if (sockets.size === 0) for (const resolve of whenAllClosed.splice(0)) resolve();
    });
  });
  const port = await listenOnLoopback(server.server);

  return {
    host: "127.0.0.1",
    port,
    messages,
    logins,
    accessTokens,
    get connectionCount() {
      return connectionCount;
    },
    failNext({ stage, code, message, times = 1 }) {
      faults.push({ stage, remaining: times, action: { kind: "fail", code, message: message ?? `Scripted ${code} at ${stage}` } });
    },
    dropNext({ stage, times = 1 }) {
      faults.push({ stage, remaining: times, action: { kind: "drop" } });
    },
    rejectRecipient(address, code, message) {
      rejected.set(address.toLowerCase(), { code, message: message ?? `Recipient ${address} refused` });
    },
    allClosed() {
      return sockets.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => whenAllClosed.push(resolve));
    },
    close() {
      for (const socket of sockets.values()) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
