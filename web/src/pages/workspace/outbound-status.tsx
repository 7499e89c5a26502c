import { get } from "../../api/client";
import { Time } from "../../ui/time";
import { useResource } from "../../use-resource";
import type { Outbound } from "./workspace-types";

const kindLabels: Record<string, string> = { reply: "Reply", replyAll: "Reply all", forward: "Forward", new: "New email", autoAck: "Automatic acknowledgement" };

export function kindLabel(kind: string): string {
  return kindLabels[kind] ?? "Email";
}

/** How the sending of one email goes, kept current by outbound.updated events. */
export function OutboundStatus({ outboundId, kind, to }: { outboundId: string; kind: string; to: string }) {
  const outbound = useResource(
    `outbound:${outboundId}`,
    () => get<Outbound>(`/api/v1/outbound/${encodeURIComponent(outboundId)}`),
    (e) => e.type === "outbound.updated" && e.outboundId === outboundId,
  );
  const o = outbound.data;
  return (
    <li className="ws-outbound" data-outbound-id={outboundId}>
      <span className="ws-outbound-what">
        {kindLabel(kind)} to {to || "the customer"}
      </span>
      {o ? <StateBadge outbound={o} /> : outbound.error ? <span className="badge">Unknown</span> : <span className="badge">Checking…</span>}
      {o?.state === "sent" && o.sentAt ? (
        <span className="muted small">
          <Time iso={o.sentAt} />
        </span>
      ) : null}
      {o?.lastError && o.state !== "sent" ? (
        <span className="ws-outbound-error">
          {o.state === "failed" ? "Not sent: " : "Last try failed, trying again: "}
          {o.lastError}
        </span>
      ) : null}
      {outbound.error ? <span className="ws-outbound-error">{outbound.error.message}</span> : null}
    </li>
  );
}

function StateBadge({ outbound }: { outbound: Outbound }) {
  switch (outbound.state) {
    case "queued":
      return <span className="badge badge-info">Queued</span>;
    case "sending":
      return <span className="badge badge-info">Sending…</span>;
    case "sent":
      return <span className="badge badge-ok">Sent</span>;
    case "failed":
      return <span className="badge badge-error">Failed</span>;
  }
}
