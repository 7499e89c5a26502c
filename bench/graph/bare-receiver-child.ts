/**
 * The bare notification receiver of bench:graph, in a Node process of its own (as Mailroom's receiver
 * is): a node:http server on 127.0.0.1 that answers Graph's validation handshake and, for every change
 * notification POST, timestamps the moment its body has been read (CLOCK_MONOTONIC, shared with the
 * benchmark), answers 202, and writes one JSON line {at, ids} to stdout with the Graph message ids the
 * notifications name. No Mailroom code. It ends when its stdin closes.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { nowMs } from "../lib/clock.js";

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const at = nowMs();
    const validationToken = url.searchParams.get("validationToken");
    if (validationToken !== null) {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end(validationToken);
      return;
    }
    res.writeHead(202);
    res.end();
    let ids: string[] = [];
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { value?: { resourceData?: { id?: unknown } }[] };
      ids = (body.value ?? []).map((n) => n.resourceData?.id).filter((id): id is string => typeof id === "string");
    } catch {
      // not a notification: nothing to record
    }
    process.stdout.write(`${JSON.stringify({ at, ids })}\n`);
  });
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
