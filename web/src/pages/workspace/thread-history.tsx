import type { Queue } from "../../api/types";
import { Link } from "../../router";
import { Time } from "../../ui/time";
import { OutboundStatus, kindLabel } from "./outbound-status";
import { actionLabel, flagBadges, formatDate, formatSize, peopleLabel, personLabel } from "./workspace-data";
import type { HistoryEntry, InteractionDetail } from "./workspace-types";

export function attachmentUrl(interactionId: string, attachmentId: string): string {
  return `/api/v1/interactions/${encodeURIComponent(interactionId)}/attachments/${encodeURIComponent(attachmentId)}`;
}

/** The emails of the conversation, oldest first, in and out; each inbound one links to its interaction. */
export function Thread({ detail, search }: { detail: InteractionDetail; search: string }) {
  if (detail.messages.length <= 1) return <p className="muted">This is the only email of the conversation so far.</p>;
  return (
    <ol className="ws-thread">
      {detail.messages.map((m) => {
        const own = m.interactionIds.includes(detail.id);
        const other = m.interactionIds.find((id) => id !== detail.id);
        return (
          <li key={m.id} className={`ws-thread-item ws-thread-${m.direction}`} aria-current={own ? "true" : undefined}>
            <div className="ws-thread-head">
              <span className={m.direction === "in" ? "badge badge-info" : "badge badge-ok"}>{m.direction === "in" ? "Received" : "Sent"}</span>
              <strong className="ws-thread-subject">{m.subject || "(no subject)"}</strong>
              {own ? <span className="badge">Open now</span> : null}
              {flagBadges(m.flags).map((f) => (
                <span key={f.label} className={`badge badge-${f.kind}`} title={f.title}>
                  {f.label}
                </span>
              ))}
            </div>
            <div className="ws-thread-meta muted small">
              {personLabel(m.from)} → {peopleLabel([...m.to, ...m.cc]) || "(no recipient)"} · <time dateTime={m.receivedAt}>{formatDate(m.receivedAt)}</time>
            </div>
            {m.attachments.length ? (
              <ul className="ws-attachments ws-attachments-small">
                {m.attachments.map((a) => (
                  <li key={a.id}>
                    <a href={attachmentUrl(detail.id, a.id)} download={a.filename}>
                      {a.filename}
                    </a>{" "}
                    <span className="muted small">{formatSize(a.size)}</span>
                  </li>
                ))}
              </ul>
            ) : null}
            {!own && other ? (
              <Link to={`/workspace/${encodeURIComponent(other)}${search}`} className="small">
                Open this email
              </Link>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

function describe(entry: HistoryEntry, queueName: (id: unknown) => string, userName: (id: unknown) => string): string {
  const d = entry.detail;
  const to = typeof d.to === "object" && d.to !== null ? (d.to as Record<string, unknown>) : null;
  switch (entry.action) {
    case "routed":
      return [d.queueId ? `to ${queueName(d.queueId)}` : "", d.agentId ? `held by ${userName(d.agentId)}` : "", typeof d.why === "string" ? `(${d.why})` : ""]
        .filter(Boolean)
        .join(" ");
    case "offered":
      return [`to ${userName(d.agentId)}`, typeof d.why === "string" ? `(${d.why})` : ""].filter(Boolean).join(" ");
    case "accepted":
      return d.next ? "with Accept next" : "";
    case "transferred":
      if (to?.queueId) return `to ${queueName(to.queueId)}`;
      if (to?.agentId) return `to ${userName(to.agentId)}`;
      return "";
    case "replied":
      return `${kindLabel(typeof d.kind === "string" ? d.kind : "")} to ${Array.isArray(d.to) ? d.to.join(", ") : "the customer"}`;
    case "auto_acknowledged":
      return typeof d.to === "string" ? `to ${d.to}` : "";
    default:
      return "";
  }
}

/** What happened to the interaction, oldest first. */
export function HistoryLog({
  entries,
  queues,
  userName,
}: {
  entries: HistoryEntry[];
  queues: Queue[];
  userName: (id: unknown) => string;
}) {
  const queueName = (id: unknown) => queues.find((q) => q.id === id)?.name ?? "a queue";
  if (entries.length === 0) return <p className="muted">Nothing has happened to this interaction yet.</p>;
  return (
    <div className="table-wrap">
      <table className="ws-history">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">What</th>
            <th scope="col">Who</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e, i) => (
            <tr key={`${e.at}-${i}`}>
              <td>
                <Time iso={e.at} />
              </td>
              <td>
                {actionLabel(e.action)} <span className="muted">{describe(e, queueName, userName)}</span>
              </td>
              <td>{e.actor ? e.actor.username : <span className="muted">Mailroom</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The emails sent about this interaction and how their sending goes, from its history. */
export function SentEmails({ entries }: { entries: HistoryEntry[] }) {
  const sent = entries.flatMap((e) => {
    const id = e.detail.outboundId;
    if ((e.action !== "replied" && e.action !== "auto_acknowledged") || typeof id !== "string") return [];
    const to = Array.isArray(e.detail.to) ? e.detail.to.join(", ") : typeof e.detail.to === "string" ? e.detail.to : "";
    const kind = e.action === "auto_acknowledged" ? "autoAck" : typeof e.detail.kind === "string" ? e.detail.kind : "reply";
    return [{ id, kind, to }];
  });
  if (sent.length === 0) return null;
  return (
    <section className="ws-sent" aria-labelledby="ws-sent-title">
      <h3 id="ws-sent-title">Sent from this interaction</h3>
      <ul className="ws-outbounds" aria-live="polite">
        {sent.map((s) => (
          <OutboundStatus key={s.id} outboundId={s.id} kind={s.kind} to={s.to} />
        ))}
      </ul>
    </section>
  );
}
