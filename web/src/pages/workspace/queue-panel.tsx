import type { Me } from "../../api/types";
import { ErrorNotice, Loading } from "../../ui/notices";
import type { Resource } from "../../use-resource";
import type { MyQueues } from "./workspace-data";

/** The user's queues and how many interactions wait in each; a queue's name shows its waiting list. */
export function QueuePanel({
  me,
  queues,
  busy,
  onAcceptNext,
  onShowQueue,
}: {
  me: Me;
  queues: Resource<MyQueues>;
  busy: boolean;
  onAcceptNext: () => void;
  onShowQueue: (queueId: string) => void;
}) {
  const data = queues.data;
  const total = data?.queues.reduce((sum, q) => sum + q.waiting, 0) ?? 0;
  return (
    <section className="panel ws-queues" aria-labelledby="ws-queues-title">
      <div className="ws-panel-head">
        <h2 id="ws-queues-title">{me.role === "agent" ? "My queues" : "Queues"}</h2>
        <button type="button" className="primary" onClick={onAcceptNext} disabled={busy}>
          {busy ? "Accepting…" : "Accept next"}
        </button>
      </div>
      <p className="ws-total" aria-live="polite" aria-atomic="true">
        <span className="ws-total-count">{data ? total : "–"}</span> waiting
      </p>
      {queues.error ? <ErrorNotice error={queues.error} title="The queues could not be loaded." /> : null}
      {/* keeps its height from loading to loaded, so that the list below does not jump */}
      <div className="ws-queue-body">
        {!data ? (
          queues.error ? null : <Loading minHeight="7.5rem" />
        ) : data.queues.length === 0 ? (
          <div className="ws-queues-empty">
            <p className="empty-title">{me.role === "agent" ? "You are in no queue yet" : "There are no queues yet"}</p>
            <p className="muted small">
              {me.role === "agent" ? "Ask a supervisor to add you to a queue on the Routing page." : "Create one on the Routing page, then add agents to it."}
            </p>
          </div>
        ) : (
          <>
            <ul className="ws-queue-list">
              {data.queues.map((q) => (
                <li key={q.queueId} className="ws-queue" data-queue-id={q.queueId}>
                  <button type="button" className="link ws-queue-name" onClick={() => onShowQueue(q.queueId)} title={`Show what waits in ${q.name}`}>
                    {q.name}
                  </button>
                  <span className={q.waiting > 0 ? "ws-count ws-count-busy" : "ws-count"}>
                    {q.waiting} waiting
                  </span>
                </li>
              ))}
            </ul>
            {total === 0 ? <p className="muted small">No interactions waiting in your queues. New emails show up here as they arrive.</p> : null}
          </>
        )}
      </div>
    </section>
  );
}
