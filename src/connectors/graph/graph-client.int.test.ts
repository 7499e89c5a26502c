import fs from "node:fs";
import https from "node:https";
import type { Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emulatorCertificates, type EmulatorCertificates } from "../../../emulators/microsoft/certificates.js";
import { closeServer, listenOnLoopback } from "../../../test/support/net.js";
import { trustedCa } from "../../shared/https-request.js";
import type { Credential, CredentialProvider } from "../mail-source.js";
import { GraphClient } from "./graph-client.js";

/** GraphClient against a scripted HTTPS server: how many requests it keeps in flight, and what it does with a 401. */
let dir: string;
let certs: EmulatorCertificates;
let server: https.Server;
let port: number;
const sockets = new Set<Socket>();
let inFlight = 0;
let mostInFlight = 0;
const held: (() => void)[] = [];
const seenTokens: string[] = [];
let refuseToken: string | null = null;
let probes = 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-graph-client-"));
  certs = emulatorCertificates(dir);
  server = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
    if (req.url?.endsWith("/probe")) {
      probes++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
      return;
    }
    const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    seenTokens.push(token);
    if (token === refuseToken) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "InvalidAuthenticationToken", message: "Access token has expired or is not yet valid." } }));
      return;
    }
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    // answered when the test lets go, so that every request the client would send at once is in flight together
    held.push(() => {
      inFlight--;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true }));
    });
  });
  server.on("connection", (s: Socket) => sockets.add(s));
  port = await listenOnLoopback(server);
});

afterAll(async () => {
  await closeServer(server, sockets);
  fs.rmSync(dir, { recursive: true, force: true });
});

class Tokens implements CredentialProvider {
  refusals = 0;
  get(): Promise<Credential> {
    return Promise.resolve({ method: "xoauth2", accessToken: `token-${this.refusals}` });
  }
  refused(): void {
    this.refusals++;
  }
}

const client = (credentials: CredentialProvider) =>
  new GraphClient({ baseUrl: `https://127.0.0.1:${port}`, login: "support@acme.test", credentials, ca: trustedCa(certs.caPem), timeoutMs: 10_000 });

describe("the Graph client", () => {
  it("keeps at most 4 requests of a mailbox in flight, as Microsoft allows", async () => {
    const graph = client(new Tokens());
    const all = Promise.all(Array.from({ length: 12 }, (_, i) => graph.json("GET", graph.userPath(`/messages/m${i}`))));
    while (held.length < 4) await new Promise((resolve) => setImmediate(resolve));
    // a request sent after all twelve, by another client: once it has arrived, any fifth of the twelve that
    // had been sent would have arrived too
    const other = client(new Tokens());
    await other.json("GET", other.userPath("/probe"));
    other.close();
    expect(probes).toBe(1);
    expect(held.length).toBe(4);
    // each answer lets one more go out
    let answered = 0;
    while (answered < 12) {
      const next = held.shift();
      if (next) {
        next();
        answered++;
      } else await new Promise((resolve) => setImmediate(resolve));
    }
    await all;
    expect(mostInFlight).toBe(4);
    graph.close();
  });

  it("asks for a new token once after a 401 and sends the request again with it", async () => {
    const tokens = new Tokens();
    refuseToken = "token-0";
    seenTokens.length = 0;
    const graph = client(tokens);
    const answer = graph.json("GET", graph.userPath("/mailFolders/inbox"));
    while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
    held.shift()!();
    await expect(answer).resolves.toEqual({ ok: true });
    expect(tokens.refusals).toBe(1);
    expect(seenTokens).toEqual(["token-0", "token-1"]);
    refuseToken = null;
    graph.close();
  });
});
