import fs from "node:fs";
import { parseMail } from "../../src/ingest/parse-mail.js";
import { serveParseRequests } from "../../src/ingest/parser-protocol.js";

/**
 * A parse worker for the pool's tests that fails on request: a header in the message says how.
 * Anything else it parses like the real worker.
 */
serveParseRequests(async (input, ctx) => {
  const text = input.raw.toString("latin1");
  if (text.includes("X-Test-Exit: always")) process.exit(70);
  if (text.includes("X-Test-Throw: always")) throw new Error("parser bug");
  const once = /X-Test-Exit-Once: (\S+)/.exec(text)?.[1];
  if (once && !fs.existsSync(once)) {
    fs.writeFileSync(once, "crashed");
    process.exit(70);
  }
  if (text.includes("X-Test-Hang: yes")) for (;;) Math.random();
  return parseMail(input, ctx);
});
