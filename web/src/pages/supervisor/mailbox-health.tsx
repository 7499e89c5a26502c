import type { MailboxHealth as MailboxHealthView, MailboxState } from "../../api/types";
import { EmptyState, ErrorNotice, Loading } from "../../ui/notices";
import { Time, useNow } from "../../ui/time";
import type { Resource } from "../../use-resource";
import { attentionOf, perMinute, rateWindowMinutes, receivedInWindow, type RecentMail } from "./supervisor-data";

const stateBadges: Record<MailboxState, { label: string; className: string }> = {
  ok: { label: "Working", className: "badge badge-ok" },
  connecting: { label: "Connecting", className: "badge badge-info" },
  error: { label: "Error", className: "badge badge-error" },
  disabled: { label: "Disabled", className: "badge" },
};

/** Each mailbox's state, its last error in the mail server's words, its warnings and how much mail it takes. */
export function MailboxHealth({
  mailboxes,
  recent,
  ready,
}: {
  mailboxes: Resource<{ items: MailboxHealthView[] }>;
  recent: Resource<RecentMail>;
  /** whether the queues above have their data: until then this section waits, so that it is not pushed down */
  ready: boolean;
}) {
  const now = useNow(15_000);
  // nothing at all until the queues above have their rows: a placeholder here would be pushed down
  if (!ready) return null;
  // a stable order, so that cards keep their place as states change: inbound by name, then outbound
  const items = mailboxes.data?.items
    .slice()
    .sort((a, b) => (a.clientType === b.clientType ? a.name.localeCompare(b.name) : a.clientType === "inbound" ? -1 : 1));
  const needing = items?.filter((m) => attentionOf(m) !== null) ?? [];
  return (
    <section className="sv-section" aria-labelledby="sv-mailboxes-title">
      <h2 id="sv-mailboxes-title">Mailboxes</h2>
      {mailboxes.error ? <ErrorNotice error={mailboxes.error} title="The mailboxes could not be loaded." /> : null}
      {recent.error ? <ErrorNotice error={recent.error} title="The mail rate could not be worked out." /> : null}
      {!items ? (
        mailboxes.error ? null : <Loading minHeight="12rem" />
      ) : items.length === 0 ? (
        <div className="panel">
          <EmptyState title="There are no mailboxes yet">An administrator connects them on the Mailboxes page.</EmptyState>
        </div>
      ) : (
        <>
          <p className="sv-summary" aria-live="polite">
            {needing.length === 0
              ? "Every mailbox is fine."
              : `${needing.length === 1 ? "1 mailbox needs" : `${needing.length} mailboxes need`} attention: ${needing.map((m) => m.name).join(", ")}.`}
          </p>
          <p className="muted small">
            Emails per minute: the emails a mailbox received in the last {rateWindowMinutes} minutes, divided by {rateWindowMinutes}.
          </p>
          <ul className="sv-mailboxes">
            {items.map((m) => (
              <MailboxCard key={m.id} mailbox={m} received={m.clientType === "inbound" ? receivedInWindow(recent.data, m.id, now) : null} capped={recent.data?.capped ?? false} />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function MailboxCard({ mailbox: m, received, capped }: { mailbox: MailboxHealthView; received: number | null; capped: boolean }) {
  const badge = stateBadges[m.status.state];
  const expiry = m.secretExpiry;
  const attention = attentionOf(m);
  const titleId = `sv-mailbox-${m.id}`;
  return (
    <li className={`sv-mailbox${attention ? ` sv-attention-${attention}` : ""}`} aria-labelledby={titleId} data-mailbox-id={m.id}>
      <div className="sv-mailbox-head">
        <h3 id={titleId}>{m.name}</h3>
        <span className={badge.className}>{badge.label}</span>
      </div>
      <p className="muted small sv-mailbox-where">
        {m.clientType === "inbound" ? "Inbound" : "Outbound"} · {m.type}
        {!m.enabled ? " · no enabled application uses it" : ""}
      </p>
      {m.status.state === "error" && (m.status.message || m.status.code) ? (
        <div className="sv-error" role="note" aria-label={`Last error of ${m.name}`}>
          <span className="sv-error-label">Last error</span>
          {m.status.code ? <code className="sv-code">{m.status.code}</code> : null}
          <span className="sv-error-text">{m.status.message}</span>
        </div>
      ) : null}
      {expiry && expiry.state !== "ok" ? (
        <p className={expiry.state === "expired" ? "sv-expiry sv-expiry-expired" : "sv-expiry"}>
          {expiry.state === "expired"
            ? `Client secret expired: Microsoft refuses new sign-ins, so mail stops. An administrator enters a new secret on the Mailboxes page.`
            : `Client secret expires ${expiry.daysLeft === 0 ? "today" : expiry.daysLeft === 1 ? "in 1 day" : `in ${expiry.daysLeft} days`}: ask an administrator to renew it before mail stops.`}
        </p>
      ) : null}
      <dl className="details sv-facts">
        {received !== null ? (
          <>
            <dt>Emails per minute</dt>
            <dd>
              <strong className="sv-rate">{perMinute(received)}</strong>{" "}
              <span className="muted small">
                ({received}
                {capped ? "+" : ""} in the last {rateWindowMinutes} min)
              </span>
            </dd>
          </>
        ) : null}
        <dt>Last sync</dt>
        <dd>{m.status.lastSyncAt ? <Time iso={m.status.lastSyncAt} /> : <span className="muted">not yet</span>}</dd>
      </dl>
      {m.status.warnings.length ? (
        <details className="sv-warnings" open={m.status.warnings.length <= 3}>
          <summary>
            {m.status.warnings.length === 1 ? "1 warning" : `${m.status.warnings.length} warnings`} (newest first)
          </summary>
          <ul>
            {m.status.warnings.map((w, i) => (
              <li key={`${w.at}-${i}`}>
                <code className="sv-code">{w.code}</code> {w.message} <span className="muted small">· <Time iso={w.at} /></span>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </li>
  );
}
