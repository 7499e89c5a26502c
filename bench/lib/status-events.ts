import http from "node:http";

/** A `mailbox.status` event as the stream carried it, with the moment (Date.now()) its bytes arrived here. */
export interface MailboxStatusEvent {
  mailboxId: string;
  state: string;
  at: number;
}

/**
 * One open `GET /api/v1/events` (Server-Sent Events) with a bearer token, listening for the
 * `mailbox.status` events the web UI shows a mailbox's state from. Timestamps are wall-clock ms
 * (Date.now()), the clock the cluster harness's views of GET /api/v1/nodes are stamped with. `resync`
 * events (the node's change feed had a gap: events may be missing) are counted.
 */
export class MailboxStatusStream {
  readonly events: MailboxStatusEvent[] = [];
  #resyncs = 0;
  #closing = false;
  #ended: string | null = null;

  private constructor(private readonly request: http.ClientRequest) {}

  /** Resolves once the server has subscribed this stream (its `: connected` line has arrived). */
  static open(base: string, token: string): Promise<MailboxStatusStream> {
    return new Promise((resolve, reject) => {
      const request = http.get(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
      const stream = new MailboxStatusStream(request);
      request.once("error", (err) => {
        if (!stream.#closing) stream.#ended = err.message;
        reject(err);
      });
      request.once("response", (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`GET /api/v1/events answered ${res.statusCode}`));
          return;
        }
        res.setEncoding("utf8");
        let buffered = "";
        res.on("data", (chunk: string) => {
          const at = Date.now();
          buffered += chunk;
          let end: number;
          while ((end = buffered.indexOf("\n\n")) >= 0) {
            const frame = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            if (frame.startsWith(": connected")) resolve(stream);
            stream.#dispatch(frame, at);
          }
        });
        res.once("end", () => {
          if (!stream.#closing) stream.#ended = "the server ended the event stream";
        });
        res.once("error", (err) => {
          if (!stream.#closing) stream.#ended = err.message;
        });
      });
    });
  }

  #dispatch(frame: string, at: number): void {
    let type = "message";
    const data: string[] = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      if (field === "data") data.push(value);
    }
    if (type === "resync") this.#resyncs++;
    if (type !== "mailbox.status" || data.length === 0) return;
    const event = JSON.parse(data.join("\n")) as { mailboxId: string; state: string };
    this.events.push({ mailboxId: event.mailboxId, state: event.state, at });
  }

  get resyncs(): number {
    return this.#resyncs;
  }

  /** Why the stream ended before close() was called, or null while it is open. */
  get ended(): string | null {
    return this.#ended;
  }

  close(): void {
    this.#closing = true;
    this.request.destroy();
  }
}
