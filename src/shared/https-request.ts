import https from "node:https";
import tls from "node:tls";

/** Node's roots plus `extraCa`: giving `ca` alone would replace the roots and break the real Entra. */
export function trustedCa(extraCa: string | null): string[] | undefined {
  return extraCa === null ? undefined : [...tls.rootCertificates, extraCa];
}

const contexts = new WeakMap<string[], tls.SecureContext>();

/**
 * One TLS context per list of trusted certificates. Given `ca`, Node builds a context for every new
 * connection, and one holding Node's 140-odd roots takes ~20 ms of the event loop: with a company CA
 * trusted, each reconnect of each mailbox paid that (bench:ews found it in Mailroom's CPU profile).
 */
export function secureContextFor(ca: string[]): tls.SecureContext {
  let context = contexts.get(ca);
  if (context === undefined) {
    context = tls.createSecureContext({ ca });
    contexts.set(ca, context);
  }
  return context;
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One HTTPS request with a deadline covering the whole exchange; rejects with a message naming the host. */
export function httpsRequest(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs: number; ca?: string[] | undefined; agent?: https.Agent },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    if (target.protocol !== "https:") {
      reject(new Error(`Mailroom only talks to ${target.host} over https, not ${target.protocol}`));
      return;
    }
    const req = https.request(
      target,
      { method: init.method, headers: init.headers ?? {}, ...(init.ca ? { secureContext: secureContextFor(init.ca) } : {}), ...(init.agent ? { agent: init.agent } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          clearTimeout(timer);
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
        });
        res.on("error", fail);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`${target.host} did not answer within ${Math.round(init.timeoutMs / 1000)} s`)), init.timeoutMs);
    function fail(err: Error) {
      clearTimeout(timer);
      reject(err);
    }
    req.on("error", fail);
    req.end(init.body);
  });
}

