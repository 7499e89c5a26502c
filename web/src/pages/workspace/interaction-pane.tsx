import { useEffect, useRef, useState } from "react";
import { ApiError, get, post } from "../../api/client";
import type { Me, Queue } from "../../api/types";
import { MailBody } from "../../ui/mail-body";
import { EmptyState, ErrorNotice, Loading, Notice } from "../../ui/notices";
import { useResource } from "../../use-resource";
import { Composer } from "./composer";
import { HistoryLog, SentEmails, Thread, attachmentUrl } from "./thread-history";
import { TransferDialog } from "./transfer-dialog";
import { flagBadges, formatDate, formatSize, peopleLabel, personLabel } from "./workspace-data";
import type { ComposeKind, FromAddress, HistoryEntry, Interaction, InteractionDetail, UserSummary } from "./workspace-types";

const stateBadges = {
  queued: <span className="badge badge-warn">Waiting</span>,
  assigned: <span className="badge badge-info">Assigned</span>,
  done: <span className="badge badge-ok">Done</span>,
};

export function InteractionPane({
  id,
  me,
  queues,
  agents,
  fromAddresses,
  search,
  autoFocus,
  onLeave,
}: {
  id: string;
  me: Me;
  queues: Queue[];
  agents: UserSummary[] | null;
  fromAddresses: FromAddress[] | undefined;
  /** the list's filters, kept in links to other interactions */
  search: string;
  /** move the focus to the interaction when it has loaded (after Accept next) */
  autoFocus: boolean;
  /** the interaction went where this user does not follow it (transferred): close it, saying so */
  onLeave: (message: string) => void;
}) {
  const path = `/api/v1/interactions/${encodeURIComponent(id)}`;
  // the email and its history arrive together, so that the page is laid out once
  const loaded = useResource(
    `interaction:${id}`,
    () => Promise.all([get<InteractionDetail>(path), get<{ items: HistoryEntry[] }>(`${path}/history`)]).then(([detail, history]) => ({ detail, history: history.items })),
    // a new email may join this thread; a change of this interaction, or of what was sent about it, shows at once
    (e) => (e.type === "interaction.updated" && e.interactionId === id) || (e.type === "outbound.updated" && e.interactionId === id) || e.type === "interaction.created",
  );
  const [compose, setCompose] = useState<ComposeKind | null>(null);
  const [transferring, setTransferring] = useState(false);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const [message, setMessage] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const focused = useRef(false);
  const d = loaded.data?.detail;

  useEffect(() => {
    if (autoFocus && d && !focused.current) {
      focused.current = true;
      heading.current?.focus();
    }
  }, [autoFocus, d]);

  const userName = (userId: unknown) => {
    if (userId === me.id) return "you";
    return agents?.find((a) => a.id === userId)?.username ?? "another agent";
  };

  const act = (action: "accept" | "done", done: string) => {
    setBusy(true);
    setActionError(null);
    setMessage(null);
    post<Interaction>(`${path}/${action}`).then(
      () => {
        setBusy(false);
        setMessage(done);
        loaded.reload();
      },
      (err: unknown) => {
        setBusy(false);
        setActionError(err);
        loaded.reload();
      },
    );
  };

  if (!d) {
    if (loaded.error instanceof ApiError && loaded.error.status === 404)
      return (
        <section className="panel ws-detail">
          <EmptyState title="This interaction is not here for you">
            It may have been transferred to a queue you do not work, or the link is wrong. Pick another one from the list.
          </EmptyState>
        </section>
      );
    return (
      <section className="panel ws-detail" aria-busy={loaded.loading}>
        {loaded.error ? <ErrorNotice error={loaded.error} title="The interaction could not be loaded." /> : <Loading label="Opening the interaction…" minHeight="28rem" />}
      </section>
    );
  }

  const seesAll = me.role !== "agent";
  const holdsIt = d.agentId === me.id;
  const canAccept = d.state === "queued";
  const canAnswer = holdsIt || seesAll;
  const canChange = d.state !== "done" && ((holdsIt && d.state === "assigned") || seesAll);
  const queueName = queues.find((q) => q.id === d.queueId)?.name ?? (d.queueId ? "a queue" : "no queue");
  const entries = loaded.data?.history ?? [];
  const openCompose = (kind: ComposeKind) => {
    setMessage(null);
    setCompose(kind);
  };

  return (
    <article className="panel ws-detail" aria-labelledby="ws-subject">
      <header className="ws-detail-head">
        <h2 id="ws-subject" ref={heading} tabIndex={-1}>
          {d.subject || "(no subject)"}
        </h2>
        <div className="ws-badges">
          {stateBadges[d.state]}
          {flagBadges(d.flags).map((f) => (
            <span key={f.label} className={`badge badge-${f.kind}`} title={f.title}>
              {f.label}
            </span>
          ))}
        </div>
      </header>
      {d.state === "assigned" && !holdsIt ? (
        <Notice kind="warning">{seesAll ? `Held by ${userName(d.agentId)}.` : "Another agent has accepted this interaction: it is theirs now."}</Notice>
      ) : null}
      {d.state === "done" ? <Notice>This interaction is done. You can still read it{canAnswer ? " and write to the customer" : ""}.</Notice> : null}
      {loaded.error ? (
        loaded.error instanceof ApiError && loaded.error.status === 404 ? (
          <Notice kind="warning">This interaction has left your queues (transferred, or its queue changed): what you see may be out of date.</Notice>
        ) : (
          <ErrorNotice error={loaded.error} title="Could not bring this interaction up to date." />
        )
      ) : null}
      {message ? <Notice kind="success">{message}</Notice> : null}
      <ErrorNotice error={actionError} />

      <div className="toolbar ws-actions" role="group" aria-label="Work on this interaction">
        {canAccept ? (
          <button type="button" className="primary" disabled={busy} onClick={() => act("accept", "You hold this interaction now.")}>
            Accept
          </button>
        ) : null}
        {canAnswer ? (
          <>
            <button type="button" onClick={() => openCompose("reply")} aria-pressed={compose === "reply"}>
              Reply
            </button>
            <button type="button" onClick={() => openCompose("replyAll")} aria-pressed={compose === "replyAll"}>
              Reply all
            </button>
            <button type="button" onClick={() => openCompose("forward")} aria-pressed={compose === "forward"}>
              Forward
            </button>
          </>
        ) : null}
        {canChange ? (
          <>
            <button type="button" disabled={busy} onClick={() => setTransferring(true)}>
              Transfer…
            </button>
            <button type="button" disabled={busy} onClick={() => act("done", "Marked done.")}>
              Done
            </button>
          </>
        ) : null}
        <span className="spacer" />
        <a className="small" href={`${path}/raw`} download={`${d.id}.eml`}>
          Download original
        </a>
      </div>

      <dl className="details ws-headers">
        <dt>From</dt>
        <dd>{personLabel(d.from)}</dd>
        {d.replyTo.length ? (
          <>
            <dt>Reply-To</dt>
            <dd>{peopleLabel(d.replyTo)}</dd>
          </>
        ) : null}
        <dt>To</dt>
        <dd>{peopleLabel(d.to) || "—"}</dd>
        {d.cc.length ? (
          <>
            <dt>Cc</dt>
            <dd>{peopleLabel(d.cc)}</dd>
          </>
        ) : null}
        <dt>Date</dt>
        <dd>
          <time dateTime={d.receivedAt}>{formatDate(d.receivedAt)}</time>
        </dd>
        <dt>Queue</dt>
        <dd>{queueName}</dd>
        {d.agentId ? (
          <>
            <dt>Held by</dt>
            <dd>{userName(d.agentId)}</dd>
          </>
        ) : null}
      </dl>

      {d.attachments.length ? (
        <section className="ws-attachments-section" aria-labelledby="ws-attachments-title">
          <h3 id="ws-attachments-title">Attachments</h3>
          <ul className="ws-attachments">
            {d.attachments.map((a) => (
              <li key={a.id}>
                <a href={attachmentUrl(d.id, a.id)} download={a.filename}>
                  {a.filename}
                </a>{" "}
                <span className="muted small">
                  {a.contentType}, {formatSize(a.size)}
                  {a.inline ? ", shown in the message" : ""}
                </span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      {compose ? (
        <Composer
          key={compose}
          kind={compose}
          detail={d}
          fromAddresses={fromAddresses}
          onCancel={() => setCompose(null)}
          onSent={() => {
            setCompose(null);
            setMessage("Your email is on its way: its state shows below.");
            loaded.reload();
          }}
        />
      ) : null}
      <SentEmails entries={entries} />

      <section className="ws-message" aria-labelledby="ws-message-title">
        <h3 id="ws-message-title">Message</h3>
        <MailBody html={d.html} text={d.text} />
      </section>

      <section aria-labelledby="ws-thread-title">
        <h3 id="ws-thread-title">Conversation</h3>
        <Thread detail={d} search={search} />
      </section>

      <section aria-labelledby="ws-history-title">
        <h3 id="ws-history-title">History</h3>
        <HistoryLog entries={entries} queues={queues} userName={userName} />
      </section>

      {transferring ? (
        <TransferDialog
          interaction={d}
          queues={queues}
          agents={agents}
          onClose={() => setTransferring(false)}
          onTransferred={(_result, to) => {
            setTransferring(false);
            onLeave(`“${d.subject || "(no subject)"}” was transferred to ${to}.`);
          }}
        />
      ) : null}
    </article>
  );
}
