import { graphError, type EmulatorResponse } from "./context.js";
import type { Outcome } from "./graph-auth.js";
import { messageProperties, parsedOf } from "./graph-store.js";
import type { StoredMessage } from "./state.js";

/**
 * The OData query options the emulator understands on message collections
 * (https://learn.microsoft.com/graph/query-parameters, https://learn.microsoft.com/graph/api/user-list-messages).
 */

export interface Clause {
  property: string;
  op: "eq" | "ne" | "gt" | "ge" | "lt" | "le";
  value: string | boolean | number;
}

type Scalar = string | boolean | number;

const filterable: Record<string, (m: StoredMessage) => Scalar> = {
  isread: (m) => m.isRead,
  receiveddatetime: (m) => m.receivedDateTime,
  createddatetime: (m) => m.createdDateTime,
  lastmodifieddatetime: (m) => m.lastModifiedDateTime,
  sentdatetime: (m) => {
    const d = parsedOf(m).date;
    return d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : m.receivedDateTime;
  },
  subject: (m) => m.subject,
  internetmessageid: (m) => m.internetMessageId,
  "from/emailaddress/address": (m) => m.from.toLowerCase(),
  hasattachments: (m) => parsedOf(m).hasAttachments,
  isdraft: (m) => m.folder === "drafts",
};

const dateProperties = new Set(["receiveddatetime", "createddatetime", "lastmodifieddatetime", "sentdatetime"]);

function badFilter(): EmulatorResponse {
  return graphError(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.");
}

/** `$select=subject,isRead`: unknown names are refused as Graph's URI parser does. */
export function parseSelect(raw: string | null): Outcome<string[] | null> {
  if (raw === null || raw.trim() === "") return { ok: true, value: null };
  const names = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const name of names) {
    if (name.toLowerCase() === "id") continue;
    if (!messageProperties.some((p) => p.toLowerCase() === name.toLowerCase())) {
      return { ok: false, response: graphError(400, "RequestBroker--ParseUri", `Could not find a property named '${name}' on type 'microsoft.graph.message'.`) };
    }
  }
  return { ok: true, value: names };
}

function parseValue(property: string, raw: string): Scalar | undefined {
  const text = raw.trim();
  if (/^'.*'$/s.test(text)) return text.slice(1, -1).replace(/''/g, "'");
  if (/^(true|false)$/i.test(text)) return text.toLowerCase() === "true";
  if (dateProperties.has(property)) {
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return undefined;
}

/** `a eq x and b ge y`: comparisons joined by `and`; no `or`, no functions, no parentheses. */
export function parseFilter(raw: string | null): Outcome<Clause[]> {
  if (raw === null || raw.trim() === "") return { ok: true, value: [] };
  const clauses: Clause[] = [];
  for (const part of raw.trim().split(/\s+and\s+/i)) {
    const m = /^\s*([A-Za-z/]+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$/is.exec(part);
    if (!m) return { ok: false, response: badFilter() };
    const property = (m[1] ?? "").toLowerCase();
    if (!(property in filterable)) return { ok: false, response: badFilter() };
    const value = parseValue(property, m[3] ?? "");
    if (value === undefined) return { ok: false, response: badFilter() };
    clauses.push({ property, op: (m[2] ?? "eq").toLowerCase() as Clause["op"], value });
  }
  return { ok: true, value: clauses };
}

function compare(a: Scalar, b: Scalar): number {
  if (typeof a === "string" && typeof b === "string") return a.localeCompare(b);
  return Number(a) - Number(b);
}

export function matches(m: StoredMessage, clauses: Clause[]): boolean {
  return clauses.every((c) => {
    const getter = filterable[c.property] as (m: StoredMessage) => Scalar;
    let actual = getter(m);
    let expected = c.value;
    // string comparisons in Exchange are case-insensitive
    if (typeof actual === "string" && typeof expected === "string" && !dateProperties.has(c.property)) {
      actual = actual.toLowerCase();
      expected = expected.toLowerCase();
    }
    const r = compare(actual, expected);
    switch (c.op) {
      case "eq":
        return r === 0;
      case "ne":
        return r !== 0;
      case "gt":
        return r > 0;
      case "ge":
        return r >= 0;
      case "lt":
        return r < 0;
      case "le":
        return r <= 0;
    }
  });
}

export interface Order {
  property: string;
  desc: boolean;
}

/** `$orderby=receivedDateTime desc`; Graph's default for messages is newest first. */
export function parseOrderBy(raw: string | null): Outcome<Order[]> {
  if (raw === null || raw.trim() === "") return { ok: true, value: [{ property: "receiveddatetime", desc: true }] };
  const orders: Order[] = [];
  for (const part of raw.split(",")) {
    const m = /^\s*([A-Za-z/]+)(?:\s+(asc|desc))?\s*$/i.exec(part);
    const property = (m?.[1] ?? "").toLowerCase();
    if (!m || !(property in filterable)) {
      return { ok: false, response: graphError(400, "RequestBroker--ParseUri", `Could not find a property named '${m?.[1] ?? part.trim()}' on type 'microsoft.graph.message'.`) };
    }
    orders.push({ property, desc: (m[2] ?? "asc").toLowerCase() === "desc" });
  }
  return { ok: true, value: orders };
}

/**
 * With both $filter and $orderby, Exchange needs the ordered properties first in the filter, in the same order; anything
 * else fails with InefficientFilter (https://learn.microsoft.com/graph/api/user-list-messages#using-filter-and-orderby-in-the-same-query).
 */
export function checkFilterOrder(clauses: Clause[], orders: Order[], orderGiven: boolean): EmulatorResponse | null {
  if (!orderGiven || clauses.length === 0) return null;
  const filterOrder: string[] = [];
  for (const c of clauses) if (!filterOrder.includes(c.property)) filterOrder.push(c.property);
  const ok = orders.every((o, i) => filterOrder[i] === o.property);
  return ok ? null : graphError(400, "InefficientFilter", "The restriction or sort order is too complex for this operation.");
}

export function sortMessages(list: StoredMessage[], orders: Order[]): StoredMessage[] {
  return [...list].sort((a, b) => {
    for (const o of orders) {
      const getter = filterable[o.property] as (m: StoredMessage) => Scalar;
      const r = compare(getter(a), getter(b));
      if (r !== 0) return o.desc ? -r : r;
    }
    // timestamps have whole seconds: ties go by order of arrival, in the direction of the first sort key
    const arrival = a.createdSeq - b.createdSeq;
    return orders[0]?.desc === false ? arrival : -arrival;
  });
}

/** A non-negative integer option ($top, $skip); the range check is the caller's. */
export function intOption(raw: string | null, name: string, fallback: number): Outcome<number> {
  if (raw === null) return { ok: true, value: fallback };
  if (!/^\d+$/.test(raw.trim())) return { ok: false, response: graphError(400, "BadRequest", `Invalid value '${raw}' for query option '${name}'.`) };
  return { ok: true, value: Number(raw.trim()) };
}
