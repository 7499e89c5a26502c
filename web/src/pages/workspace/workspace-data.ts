import { get, query } from "../../api/client";
import type { Address, List, Me, QueueStats } from "../../api/types";
import type { ComposeKind, FromAddress, InteractionDetail, InteractionState, MailFlags } from "./workspace-types";

/** A queue as the agent's queue panel shows it. */
export interface QueueCount {
  queueId: string;
  name: string;
  waiting: number;
}

export interface MyQueues {
  queues: QueueCount[];
}

/**
 * The queues whose work the user takes, with how many interactions wait in each: an agent's own
 * queues (empty ones too); admins and supervisors take work from every queue (accept-next does).
 */
export async function loadMyQueues(me: Me): Promise<MyQueues> {
  const stats = await get<List<QueueStats>>(me.role === "agent" ? "/api/v1/me/queues" : "/api/v1/queues/stats");
  return { queues: stats.items.map(toCount) };
}

function toCount(s: QueueStats): QueueCount {
  return { queueId: s.queueId, name: s.name, waiting: s.waiting };
}

/** The open interaction's id, from /workspace/<id>; null for none (or an address that is not one). */
export function selectedFrom(path: string): string | null {
  if (!path.startsWith("/workspace/")) return null;
  try {
    return decodeURIComponent(path.slice("/workspace/".length)) || null;
  } catch {
    return null;
  }
}

/** Which interactions the list shows. */
export type ListView = "mine" | "waiting" | "done" | "all";

export interface ListFilters {
  view: ListView;
  queueId: string;
  state: "" | InteractionState;
  agentId: string;
}

export function filtersFrom(search: URLSearchParams, me: Me): ListFilters {
  const view = search.get("view");
  const seesAll = me.role !== "agent";
  const known: ListView[] = seesAll ? ["mine", "waiting", "done", "all"] : ["mine", "waiting", "done"];
  const state = search.get("state");
  return {
    view: known.includes(view as ListView) ? (view as ListView) : "mine",
    queueId: search.get("queue") ?? "",
    state: state === "queued" || state === "assigned" || state === "done" ? state : "",
    agentId: seesAll ? (search.get("agent") ?? "") : "",
  };
}

/** The query string that keeps the filters in the address, so a reload or a shared link shows the same list. */
export function filtersSearch(filters: ListFilters): string {
  return query({
    view: filters.view === "mine" ? undefined : filters.view,
    queue: filters.queueId || undefined,
    state: filters.view === "all" ? filters.state || undefined : undefined,
    agent: filters.view === "all" ? filters.agentId || undefined : undefined,
  });
}

export function listPath(filters: ListFilters, me: Me, limit: number): string {
  const queueId = filters.queueId || undefined;
  switch (filters.view) {
    case "mine":
      return `/api/v1/interactions${query({ state: "assigned", agentId: me.id, queueId, limit })}`;
    case "waiting":
      return `/api/v1/interactions${query({ state: "queued", queueId, limit })}`;
    case "done":
      return `/api/v1/interactions${query({ state: "done", agentId: me.id, queueId, limit })}`;
    case "all":
      return `/api/v1/interactions${query({ state: filters.state || undefined, agentId: filters.agentId || undefined, queueId, limit })}`;
  }
}

export function personLabel(person: Address | null | undefined): string {
  if (!person) return "(no sender)";
  if (!person.address) return person.name || "(no address)";
  return person.name ? `${person.name} <${person.address}>` : person.address;
}

export function peopleLabel(people: Address[]): string {
  return people.map(personLabel).join(", ");
}

export function senderShort(person: Address | null): string {
  if (!person) return "(no sender)";
  return person.name || person.address || "(no address)";
}

export interface FlagBadge {
  label: string;
  kind: "warn" | "error" | "info";
  title: string;
}

/** What the server noticed about the message, as badges an agent understands. */
export function flagBadges(flags: MailFlags): FlagBadge[] {
  const out: FlagBadge[] = [];
  if (flags.autoReply) out.push({ label: "Auto-reply", kind: "info", title: "Sent automatically (an out-of-office or similar): usually needs no answer." });
  if (flags.bounce) out.push({ label: "Bounce", kind: "error", title: "A delivery failure report: an email we sent did not arrive." });
  if (flags.loop) out.push({ label: "Mail loop", kind: "error", title: "This message has passed through Mailroom before: answering it could start a loop." });
  if (flags.wrapped) {
    const why = { oversize: "too large", unparsable: "not readable as an email", empty: "empty", unstorable: "not storable as it was" }[flags.wrapped];
    out.push({ label: `Wrapped: ${flags.wrapped}`, kind: "warn", title: `The original was ${why}: it is attached as it arrived.` });
  }
  return out;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function formatDate(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

const replyPrefix = /^\s*(re|aw|sv|antw)\s*:/i;
const forwardPrefix = /^\s*(fwd?|wg|tr|rv)\s*:/i;

export function subjectFor(kind: ComposeKind, original: string): string {
  if (kind === "new") return "";
  const subject = original.trim();
  const [pattern, prefix] = kind === "forward" ? [forwardPrefix, "Fwd:"] : [replyPrefix, "Re:"];
  if (!subject) return prefix;
  return pattern.test(subject) ? subject : `${prefix} ${subject}`;
}

const sameAddress = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * Who a reply goes to, as the server works it out: the Reply-To, else the sender; reply all adds the
 * original's To and Cc, without the agent's own From addresses.
 */
export function replyRecipients(kind: ComposeKind, detail: InteractionDetail, own: FromAddress[]): { to: string[]; cc: string[] } {
  if (kind === "new" || kind === "forward") return { to: [], cc: [] };
  const usable = (list: (Address | null)[]) => list.filter((a): a is Address => a !== null && a.address !== "").map((a) => a.address);
  const replyTo = usable(detail.replyTo);
  const primary = replyTo.length ? replyTo : usable([detail.from]);
  const taken: string[] = [];
  const keep = (address: string) => {
    if (own.some((o) => sameAddress(o.address, address)) || taken.some((t) => sameAddress(t, address))) return false;
    taken.push(address);
    return true;
  };
  if (kind === "reply") return { to: primary.filter(keep), cc: [] };
  const to = [...primary, ...usable(detail.to)].filter(keep);
  const cc = usable(detail.cc).filter(keep);
  return { to, cc };
}

export function parseAddresses(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((a) => a.trim())
    .filter(Boolean);
}

/** What the server adds below the agent's text: shown so the agent knows the customer sees it. */
export function quotedOriginal(kind: ComposeKind, detail: InteractionDetail): string {
  if (kind === "new") return "";
  const body = detail.text.replace(/\r\n?/g, "\n").trimEnd();
  if (kind === "forward") {
    const lines = [
      "---------- Forwarded message ---------",
      `From: ${personLabel(detail.from)}`,
      `Date: ${formatDate(detail.receivedAt)}`,
      `Subject: ${detail.subject}`,
      detail.to.length ? `To: ${peopleLabel(detail.to)}` : "",
      detail.cc.length ? `Cc: ${peopleLabel(detail.cc)}` : "",
    ].filter(Boolean);
    return [...lines, "", body].join("\n");
  }
  const quoted = body ? body.split("\n").map((line) => `> ${line}`) : [];
  return [`On ${formatDate(detail.receivedAt)}, ${personLabel(detail.from)} wrote:`, ...quoted].join("\n");
}

const actionLabels: Record<string, string> = {
  routed: "Routed",
  accepted: "Accepted",
  offered: "Offered",
  transferred: "Transferred",
  done: "Marked done",
  replied: "Replied",
  forwarded: "Forwarded",
  auto_acknowledged: "Acknowledged automatically",
};

export function actionLabel(action: string): string {
  return actionLabels[action] ?? action.replace(/_/g, " ");
}
