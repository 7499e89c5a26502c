import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Socket } from "node:net";
import {
  graphError,
  json,
  readJson,
  type EmulatorConnection,
  type EmulatorContext,
  type EmulatorRequest,
  type EmulatorResponse,
  type MailChange,
  type Route,
} from "./context.js";
import { entraRoutes } from "./entra.js";
import { emulatorCertificates } from "./certificates.js";
import { ewsFaultResponse, ewsRoutes } from "./ews.js";
import { graphMailRoutes } from "./graph-mail.js";
import { subscriptionRoutes } from "./subscriptions.js";
import { defaultSeed, type Seed } from "./seed.js";
import { EmulatorState, type EwsErrorRule, type FaultRule } from "./state.js";
import { TokenSigner } from "./tokens.js";

export interface EmulatorOptions {
  /** 0 or missing: a free port */
  port?: number;
  seed?: Seed;
  /** where the CA and server certificate are kept; reused when it already holds them */
  certDir: string;
  strict?: boolean;
}

export interface StartedEmulator {
  url: string;
  caFile: string;
  caPem: string;
  state: EmulatorState;
  /** signs tokens as Entra would: lets a test reach Graph without going through the token endpoint */
  signer: TokenSigner;
  /** what `npm run emulator` prints: url, caFile and the seeded tenants with their clients and users */
  describe(): EmulatorDescription;
  close(): Promise<void>;
}

export interface EmulatorDescription {
  url: string;
  /** the EWS endpoint: <url>/EWS/Exchange.asmx */
  ewsUrl: string;
  caFile: string;
  tenants: { id: string; clients: { clientId: string; clientSecret: string }[]; users: { id: string; mail: string; password: string }[] }[];
}

/** Starts the Entra ID + Graph + EWS emulator on 127.0.0.1 over HTTPS. */
export async function startEmulator(options: EmulatorOptions): Promise<StartedEmulator> {
  const certs = emulatorCertificates(options.certDir);
  const state = new EmulatorState(options.seed ?? defaultSeed);
  const sockets = new Set<Socket>();
  // one object per TLS connection, for handlers that authenticate connections (NTLM)
  const connections = new WeakMap<object, EmulatorConnection>();
  let connectionCount = 0;
  const streams = new Set<ServerResponse>();
  let routes: Route[] = [];
  const server = https.createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
    let connection = connections.get(req.socket);
    if (!connection) {
      connectionCount += 1;
      connection = { id: connectionCount };
      connections.set(req.socket, connection);
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "https://127.0.0.1");
      const request: EmulatorRequest = {
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks),
        params: {},
        connection,
      };
      dispatch(routes, state, request).then(
        (response) => send(res, response, streams),
        (err: unknown) => send(res, graphError(500, "generalException", err instanceof Error ? err.message : String(err)), streams),
      );
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signer = new TokenSigner();
  const context: EmulatorContext = {
    state,
    signer,
    url,
    strict: options.strict ?? false,
    changes: new EventEmitter<{ change: [MailChange] }>(),
    caPem: certs.caPem,
    fault: (kind) => firedFault(state, kind),
  };
  const subscriptions = subscriptionRoutes(context);
  const ews = ewsRoutes(context);
  routes = [...controlRoutes(context), ...entraRoutes(context), ...graphMailRoutes(context), ...subscriptions.routes, ...ews.routes];

  return {
    url,
    caFile: certs.caFile,
    caPem: certs.caPem,
    state,
    signer,
    describe: () => ({
      url,
      ewsUrl: `${url}/EWS/Exchange.asmx`,
      caFile: certs.caFile,
      tenants: [...state.tenants.values()].map((t) => ({
        id: t.id,
        clients: [...t.clients.values()].map((c) => ({ clientId: c.clientId, clientSecret: c.clientSecret })),
        users: [...new Set(t.users.values())].map((u) => ({ id: u.id, mail: u.mail, password: u.password })),
      })),
    }),
    close: async () => {
      subscriptions.stop();
      ews.stop();
      // long-lived responses end properly (the client sees the end of the chunked body), then every connection goes
      await endStreams(streams);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function dispatch(routes: Route[], state: EmulatorState, req: EmulatorRequest): Promise<EmulatorResponse> {
  const found = match(routes, req);
  if (!found) {
    return req.path.startsWith("/v1.0/")
      ? graphError(400, "BadRequest", `Resource not found for the segment '${req.path.split("/").at(-1) ?? ""}'.`)
      : json(404, { error: "not_found", error_description: `The emulator has no endpoint ${req.method} ${req.path}` });
  }
  const { route, params } = found;
  req.params = params;
  if (route.kind !== "control") {
    state.faults.counts[route.kind] += 1;
    const delay = state.faults.delay;
    if (delay && (delay.match === "all" || delay.match === route.kind)) await new Promise((r) => setTimeout(r, delay.ms));
    // Exchange throttles a user it knows: EWS's handler asks after signing the caller in (ctx.fault)
    const fault = route.kind === "ews" ? null : firedFault(state, route.kind);
    if (fault) return fault;
  }
  return route.handler(req);
}

/** The answer of the fault switch that fires for this request, if one does. */
function firedFault(state: EmulatorState, kind: "graph" | "token" | "ews"): EmulatorResponse | null {
  const rule = firingFault(state.faults.rules, kind);
  if (!rule) return null;
  state.faults.counts.throttled += 1;
  return faultResponse(rule, kind);
}

function match(routes: Route[], req: EmulatorRequest): { route: Route; params: Record<string, string> } | undefined {
  const segments = req.path.split("/").filter((s) => s !== "");
  for (const route of routes) {
    if (route.method !== req.method) continue;
    const pattern = route.pattern.split("/").filter((s) => s !== "");
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length && ok; i++) {
      const p = pattern[i] as string;
      const s = decodeURIComponent(segments[i] as string);
      if (p.startsWith(":")) params[p.slice(1)] = s;
      else ok = p.toLowerCase() === s.toLowerCase();
    }
    if (ok) return { route, params };
  }
  return undefined;
}

/** The rule that fires for this request, if any: each rule fails its share of the requests it matches, evenly spread. */
function firingFault(rules: FaultRule[], kind: "graph" | "token" | "ews"): FaultRule | undefined {
  for (const rule of rules) {
    if (rule.match !== "all" && rule.match !== kind) continue;
    if (rule.remaining !== null && rule.remaining <= 0) continue;
    rule.accumulated += rule.ratio;
    if (rule.accumulated < 1 - 1e-9) continue;
    rule.accumulated -= 1;
    if (rule.remaining !== null) rule.remaining -= 1;
    return rule;
  }
  return undefined;
}

function faultResponse(rule: FaultRule, kind: "graph" | "token" | "ews"): EmulatorResponse {
  const headers: Record<string, string> = rule.retryAfterSeconds === null ? {} : { "retry-after": String(rule.retryAfterSeconds) };
  if (kind === "ews") return ewsFaultResponse(rule.status, rule.retryAfterSeconds, headers);
  if (kind === "token") {
    // Entra answers throttling and outages with its own error body
    return json(rule.status, { error: rule.status === 429 ? "temporarily_unavailable" : "server_error", error_description: `AADSTS90033: A transient error has occurred. Please try again.`, error_codes: [90033], correlation_id: crypto.randomUUID(), timestamp: new Date().toISOString() }, headers);
  }
  if (rule.status === 429) return graphError(429, "TooManyRequests", "Too many requests. The request has been throttled.", headers);
  if (rule.status === 503) return graphError(503, "serviceNotAvailable", "The service is temporarily unavailable. Please retry after some time.", headers);
  if (rule.status === 504) return graphError(504, "UnknownError", "The gateway timed out.", headers);
  return graphError(500, "generalException", "An internal server error occurred.", headers);
}

/** The emulator's own switches, for tests and for trying things out; none of this is Microsoft's. */
function controlRoutes(ctx: EmulatorContext): Route[] {
  const { state } = ctx;
  return [
    {
      method: "POST",
      pattern: "/_emulator/faults",
      kind: "control",
      handler: (req) => {
        const body = (readJson(req) ?? {}) as {
          clear?: boolean;
          fail?: { match?: FaultRule["match"]; status?: FaultRule["status"]; retryAfterSeconds?: number | null; ratio?: number; times?: number | null };
          delay?: { match?: FaultRule["match"]; ms: number } | null;
          dropNotifications?: number;
          ewsError?: { operation?: string; code?: string; backOffMs?: number | null; times?: number | null };
        };
        if (body.clear) {
          state.faults.rules = [];
          state.faults.ewsErrors = [];
          state.faults.delay = null;
          state.faults.dropNotifications = 0;
        }
        if (body.fail) {
          state.faults.rules.push({
            match: body.fail.match ?? "graph",
            status: body.fail.status ?? 429,
            retryAfterSeconds: body.fail.retryAfterSeconds === undefined ? 1 : body.fail.retryAfterSeconds,
            ratio: body.fail.ratio ?? 1,
            remaining: body.fail.times ?? null,
            accumulated: 0,
          });
        }
        if (body.ewsError) {
          const { operation, code } = body.ewsError;
          if (!operation || !code) return json(400, { error: "bad_request", error_description: "ewsError needs {operation, code[, backOffMs, times]}" });
          const rule: EwsErrorRule = { operation, code, backOffMs: body.ewsError.backOffMs ?? null, remaining: body.ewsError.times ?? null };
          state.faults.ewsErrors.push(rule);
        }
        if (body.delay !== undefined) state.faults.delay = body.delay === null ? null : { match: body.delay.match ?? "graph", ms: body.delay.ms };
        if (body.dropNotifications !== undefined) state.faults.dropNotifications = body.dropNotifications;
        return json(200, { rules: state.faults.rules.length, ewsErrors: state.faults.ewsErrors.length, delay: state.faults.delay, dropNotifications: state.faults.dropNotifications });
      },
    },
    { method: "GET", pattern: "/_emulator/stats", kind: "control", handler: () => json(200, state.faults.counts) },
    {
      method: "POST",
      pattern: "/_emulator/clock",
      kind: "control",
      handler: (req) => {
        const body = (readJson(req) ?? {}) as { advanceSeconds?: number };
        state.clockOffsetMs += (body.advanceSeconds ?? 0) * 1000;
        return json(200, { now: state.now().toISOString() });
      },
    },
  ];
}

function send(res: ServerResponse, response: EmulatorResponse, streams: Set<ServerResponse>): void {
  if (response.stream) {
    res.writeHead(response.status, response.headers ?? {});
    // the client learns at once that the stream is open, before its first chunk
    res.flushHeaders();
    streams.add(res);
    res.on("close", () => streams.delete(res));
    response.stream(res);
    return;
  }
  const body = response.body;
  let payload: Buffer | string | undefined;
  if (body === undefined) payload = undefined;
  else if (typeof body === "string" || Buffer.isBuffer(body)) payload = body;
  else payload = JSON.stringify(body);
  res.writeHead(response.status, response.headers ?? {});
  res.end(payload);
}

/** Ends every open streamed response and waits (briefly: the client may be gone) until each has gone out. */
async function endStreams(streams: Set<ServerResponse>): Promise<void> {
  const pending = [...streams].map(
    (res) =>
      new Promise<void>((resolve) => {
        if (res.writableFinished || res.destroyed) return resolve();
        const guard = setTimeout(resolve, 1_000);
        const done = () => {
          clearTimeout(guard);
          resolve();
        };
        res.once("finish", done);
        res.once("close", done);
        if (!res.writableEnded) res.end();
      }),
  );
  await Promise.all(pending);
}
