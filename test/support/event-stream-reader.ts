import { expect } from "vitest";

/** One frame of an event stream; comment frames (": connected", ": keep-alive") are left out. */
export interface StreamEvent {
  id: string | undefined;
  type: string;
  data: unknown;
}

/** Reads Server-Sent Events frame by frame. */
export class EventStreamReader {
  #text = "";
  readonly #decoder = new TextDecoder();

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** The next frame, comments skipped; a generous deadline bounds a frame that never comes. */
  async next(deadlineMs = 20_000): Promise<StreamEvent> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const end = this.#text.indexOf("\n\n");
      if (end >= 0) {
        const frame = this.#text.slice(0, end);
        this.#text = this.#text.slice(end + 2);
        const lines = frame.split("\n");
        if (lines.every((l) => l.startsWith(":"))) continue;
        const field = (name: string) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
        const data = field("data");
        return { id: field("id"), type: field("event") ?? "message", data: data === undefined ? undefined : JSON.parse(data) };
      }
      const { value, done } = await this.#read(deadline);
      if (done) throw new Error(`the stream ended; unread: ${JSON.stringify(this.#text)}`);
      this.#text += this.#decoder.decode(value, { stream: true });
    }
  }

  async #read(deadline: number): ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no event within the deadline; unread: ${JSON.stringify(this.#text)}`)), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([this.reader.read(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The data of every event up to and including the first whose data `last` accepts. */
  async until(last: (data: unknown) => boolean): Promise<unknown[]> {
    const events: unknown[] = [];
    for (;;) {
      const { data } = await this.next();
      events.push(data);
      if (last(data)) return events;
    }
  }

  /** Resolves when the server ends the stream; the test's timeout bounds a stream that never ends. */
  async ended(): Promise<void> {
    for (;;) if ((await this.reader.read()).done) return;
  }

  /** Resolves once the server wrote ": connected", its first frame, which it writes once the stream listens. */
  async connected(): Promise<void> {
    const deadline = Date.now() + 20_000;
    const comment = ": connected\n\n";
    while (this.#text.length < comment.length) {
      const { value, done } = await this.#read(deadline);
      if (done) throw new Error("the stream ended before it was connected");
      this.#text += this.#decoder.decode(value, { stream: true });
    }
    expect(this.#text.startsWith(comment), this.#text).toBe(true);
    // what follows (events caught up on) is for next()
    this.#text = this.#text.slice(comment.length);
  }
}
