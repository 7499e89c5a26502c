import http from "node:http";
import { nowMs } from "./clock.js";

/** An `interaction.created` event as the stream carried it, with the moment its bytes arrived here. */
export interface InteractionsCreated {
  mailboxId: string;
  interactionIds: string[];
  /** CLOCK_MONOTONIC ms when the chunk that completed the event was read from the socket */
  at: number;
}

/**
 * One open `GET /api/v1/events` (Server-Sent Events), held the way the web UI holds it, with a bearer
 * token. Each chunk is timestamped as it is read, before any parsing, and the events it completes are
 * handed to `onCreated`; the other event types are counted.
 */
export class MailroomEventStream {
  #otherEvents = 0;
  #closing = false;
  #ended: string | null = null;

  private constructor(private readonly request: http.ClientRequest) {}

  /** Resolves once the server has subscribed this stream (its `: connected` line has arrived). */
  static open(base: string, token: string, onCreated: (event: InteractionsCreated) => void): Promise<MailroomEventStream> {
    return new Promise((resolve, reject) => {
      const request = http.get(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
      const stream = new MailroomEventStream(request);
      request.once("error", (err) => {
        stream.#ended = err.message;
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
          const at = nowMs();
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
            stream.dispatch(frame, at, onCreated);
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

  private dispatch(frame: string, at: number, onCreated: (event: InteractionsCreated) => void): void {
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
    if (data.length === 0) return;
    if (type !== "interaction.created") {
      this.#otherEvents++;
      return;
    }
    const event = JSON.parse(data.join("\n")) as { mailboxId: string; interactionIds: string[] };
    onCreated({ mailboxId: event.mailboxId, interactionIds: event.interactionIds, at });
  }

  /** Events of other types (mailbox.status) seen so far. */
  get otherEvents(): number {
    return this.#otherEvents;
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
