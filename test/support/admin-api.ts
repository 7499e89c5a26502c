import type { LightMyRequestResponse } from "fastify";
import type { TestApp } from "./test-app.js";

/** A signed-in caller of the admin API, keeping every response it got (for the secret-leak checks). */
export interface AdminApi {
  responses: LightMyRequestResponse[];
  get(url: string): Promise<LightMyRequestResponse>;
  post(url: string, payload?: unknown): Promise<LightMyRequestResponse>;
  patch(url: string, payload: unknown): Promise<LightMyRequestResponse>;
  del(url: string): Promise<LightMyRequestResponse>;
}

export function adminApi(t: TestApp, token: string): AdminApi {
  const responses: LightMyRequestResponse[] = [];
  const call = async (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: unknown) => {
    const res = await t.request({ method, url, token, ...(payload === undefined ? {} : { payload: payload as object }) });
    responses.push(res);
    return res;
  };
  return {
    responses,
    get: (url) => call("GET", url),
    post: (url, payload) => call("POST", url, payload ?? {}),
    patch: (url, payload) => call("PATCH", url, payload),
    del: (url) => call("DELETE", url),
  };
}

export function inboundImap(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clientType: "inbound",
    name: "support",
    type: "IMAP",
    mailbox: "support@acme.test",
    password: "imap-password-1",
    host: "imap.acme.test",
    port: 993,
    ...overrides,
  };
}

export function inboundPop3(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return inboundImap({ name: "pop.client", type: "POP3", mailbox: "esj-22-30", host: "pop.acme.test", port: 995, ...overrides });
}

/** Graph signs in only with OAuth 2.0 client credentials (see the reference). */
export const graphSignIn = {
  password: undefined,
  auth: {
    method: "oauth2",
    grant: "client_credentials",
    clientId: "11111111-2222-3333-4444-555555555555",
    directoryId: "66666666-7777-8888-9999-000000000000",
  },
  clientSecret: "graph-client-secret-1",
};

export function inboundGraph(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return inboundImap({ name: "graph", type: "GRAPH", host: "graph.microsoft.com", port: 443, ...graphSignIn, ...overrides });
}

export function outboundSmtp(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clientType: "outbound",
    type: "SMTP",
    mailbox: "sender@acme.test",
    password: "smtp-password-1",
    host: "smtp.acme.test",
    port: 587,
    security: "starttls",
    fromAddress: "support@acme.test",
    ...overrides,
  };
}

/** Creates what an application needs and returns the ids. */
export async function createQueue(api: AdminApi, name = "Support"): Promise<string> {
  const res = await api.post("/api/v1/queues", { name });
  if (res.statusCode !== 201) throw new Error(`queue: ${res.statusCode} ${res.body}`);
  return res.json<{ id: string }>().id;
}

export async function createMailbox(api: AdminApi, payload: Record<string, unknown>): Promise<string> {
  const res = await api.post("/api/v1/mailboxes", payload);
  if (res.statusCode !== 201) throw new Error(`mailbox: ${res.statusCode} ${res.body}`);
  return res.json<{ id: string }>().id;
}

export async function auditActions(api: AdminApi): Promise<{ action: string; target: { id: string | null }; changes: Record<string, unknown> }[]> {
  const res = await api.get("/api/v1/audit?limit=500");
  return res.json().items;
}
