import http from "node:http";
import https from "node:https";
import { secureContextFor } from "../../shared/https-request.js";

export interface EwsHttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** every WWW-Authenticate line on its own: Node would join them with commas, and NTLM's challenge is one of them */
  challenges: string[];
  body: Buffer;
}

export interface EwsHttpRequest {
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
  agent: http.Agent;
  ca: string[] | undefined;
  rejectUnauthorized: boolean;
  /** a deadline for the whole exchange; a stream's is its own wait */
  timeoutMs: number;
  signal: AbortSignal | undefined;
  /** a 200 answer is handed over chunk by chunk instead of being kept (GetStreamingEvents) */
  onChunk?: (chunk: Buffer) => void;
}

/**
 * One POST to the EWS endpoint over the mailbox's own agent (one socket: NTLM signs in a connection,
 * not a request). The answer is read to its end, so the socket goes back to the agent for the next one.
 */
export function ewsHttp(request: EwsHttpRequest): Promise<EwsHttpAnswer> {
  return new Promise((resolve, reject) => {
    const secure = request.url.protocol === "https:";
    const options: https.RequestOptions = {
      method: "POST",
      headers: { ...request.headers, "content-length": String(request.body.length) },
      agent: request.agent,
      ...(secure ? { rejectUnauthorized: request.rejectUnauthorized, ...(request.ca ? { secureContext: secureContextFor(request.ca) } : {}) } : {}),
    };
    const req = (secure ? https : http).request(request.url, options, (res) => {
      const chunks: Buffer[] = [];
      const streaming = res.statusCode === 200 && request.onChunk !== undefined;
      res.on("data", (c: Buffer) => (streaming ? request.onChunk?.(c) : chunks.push(c)));
      res.on("end", () => {
        done();
        const challenges: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i]?.toLowerCase() === "www-authenticate") challenges.push(res.rawHeaders[i + 1] ?? "");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, challenges, body: Buffer.concat(chunks) });
      });
      res.on("error", fail);
      res.on("aborted", () => fail(new Error(`${request.url.host} ended the answer early`)));
    });
    // settled here and the socket dropped without an error: an error given to destroy() can surface on the socket of a
    // response under way, where nothing listens
    const stop = (err: Error) => {
      fail(err);
      req.destroy();
    };
    const timer = setTimeout(() => stop(new TimeoutError(`${request.url.host} did not answer within ${Math.round(request.timeoutMs / 1000)} s`)), request.timeoutMs);
    const onAbort = () => stop(new AbortedError("The request was stopped."));
    request.signal?.addEventListener("abort", onAbort, { once: true });
    if (request.signal?.aborted) onAbort();
    function done() {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
    }
    function fail(err: Error) {
      done();
      reject(err);
    }
    req.on("error", fail);
    req.end(request.body);
  });
}

/** named like Node's socket timeout, so that the connectors map it to "timeout" */
class TimeoutError extends Error {
  readonly code = "ETIMEDOUT";
}

export class AbortedError extends Error {
  readonly code = "ABORT_ERR";
}
