import http from "node:http";
import { nowMs } from "./clock.js";

/** One Server-Sent Event as it arrived: its type, its data lines joined, and when its last chunk was read. */
export interface StreamEvent {
  type: string;
  data: string;
  at: number;
}

/**
 * One open `GET /api/v1/events` (Server-Sent Events), held the way the web UI holds it, with a bearer
 * token. Each chunk is timestamped as it is read (with `clock`), before any parsing, and every event
 * it completes is handed to `onEvent`.
 */
export class EventStreamConnection {
  #closing = false;
  #ended: string | null = null;

  private constructor(private readonly request: http.ClientRequest) {}

  /** Resolves once the server has subscribed this stream (its `: connected` line has arrived). */
  static open(base: string, token: string, onEvent: (event: StreamEvent) => void, clock: () => number = nowMs): Promise<EventStreamConnection> {
    return new Promise((resolve, reject) => {
      const request = http.get(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
      const stream = new EventStreamConnection(request);
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
        let subscribed = false;
        res.on("data", (chunk: string) => {
          const at = clock();
          buffered += chunk;
          // an event ends with a blank line; a chunk may hold several events, or part of one
          let end: number;
          while ((end = buffered.indexOf("\n\n")) >= 0) {
            const frame = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            if (!subscribed && frame.startsWith(": connected")) {
              subscribed = true;
              resolve(stream);
            }
            const event = parseFrame(frame, at);
            if (event) onEvent(event);
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

  /** Why the stream ended before close() was called, or null while it is open. */
  get ended(): string | null {
    return this.#ended;
  }

  close(): void {
    this.#closing = true;
    this.request.destroy();
  }
}

function parseFrame(frame: string, at: number): StreamEvent | null {
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
  return data.length ? { type, data: data.join("\n"), at } : null;
}

/** An `interaction.created` event as the stream carried it, with the moment its bytes arrived here. */
export interface InteractionsCreated {
  mailboxId: string;
  interactionIds: string[];
  /** CLOCK_MONOTONIC ms when the chunk that completed the event was read from the socket */
  at: number;
}

/** The event stream as the latency probes read it: `interaction.created` to `onCreated`, the other types counted. */
export class MailroomEventStream {
  private constructor(
    private readonly connection: EventStreamConnection,
    private readonly seen: { otherEvents: number },
  ) {}

  static async open(base: string, token: string, onCreated: (event: InteractionsCreated) => void): Promise<MailroomEventStream> {
    const seen = { otherEvents: 0 };
    const connection = await EventStreamConnection.open(base, token, ({ type, data, at }) => {
      if (type !== "interaction.created") {
        seen.otherEvents++;
        return;
      }
      const event = JSON.parse(data) as { mailboxId: string; interactionIds: string[] };
      onCreated({ mailboxId: event.mailboxId, interactionIds: event.interactionIds, at });
    });
    return new MailroomEventStream(connection, seen);
  }

  /** Events of other types (mailbox.status) seen so far. */
  get otherEvents(): number {
    return this.seen.otherEvents;
  }

  /** Why the stream ended before close() was called, or null while it is open. */
  get ended(): string | null {
    return this.connection.ended;
  }

  close(): void {
    this.connection.close();
  }
}
