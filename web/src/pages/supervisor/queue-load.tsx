import type { QueueStats } from "../../api/types";
import { ErrorNotice } from "../../ui/notices";
import { useNow } from "../../ui/time";
import type { Resource } from "../../use-resource";
import { formatAge } from "./supervisor-data";

/** An email waiting longer than this is shown as late. */
const lateSeconds = 60 * 60;

/** Per queue: what waits, since when the oldest, and what agents hold. */
export function QueueLoad({ stats }: { stats: Resource<{ items: QueueStats[] }> }) {
  const now = useNow(15_000);
  const items = stats.data?.items;
  return (
    <section className="sv-section" aria-labelledby="sv-queues-title">
      <h2 id="sv-queues-title">Queues</h2>
      {stats.error ? <ErrorNotice error={stats.error} title="The queues could not be loaded." /> : null}
      <div className="table-wrap">
        <table className="sv-queues">
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col" className="sv-num">
                Waiting
              </th>
              <th scope="col" className="sv-num">
                Assigned
              </th>
              <th scope="col">Oldest waiting</th>
            </tr>
          </thead>
          <tbody>
            {/* a row while loading or empty: a table of one queue then keeps its height when its data arrives */}
            {!items || items.length === 0 ? (
              <tr>
                <td colSpan={4} className="muted" aria-busy={!items && !stats.error}>
                  {!items ? (stats.error ? "—" : "Loading…") : "There are no queues yet: create them and add agents on the Routing page."}
                </td>
              </tr>
            ) : (
              items.map((q) => {
                const age = q.oldestWaitingSince ? Math.max(0, (now - Date.parse(q.oldestWaitingSince)) / 1000) : null;
                return (
                  <tr key={q.queueId} data-queue-id={q.queueId}>
                    <th scope="row">{q.name}</th>
                    <td className="sv-num">{q.waiting}</td>
                    <td className="sv-num">{q.assigned}</td>
                    <td>
                      {age === null ? (
                        <span className="muted">Nothing waiting</span>
                      ) : (
                        <span className={age >= lateSeconds ? "badge badge-warn" : undefined} title={new Date(q.oldestWaitingSince ?? "").toLocaleString()}>
                          {formatAge(age)}
                        </span>
                      )}
                    </td>
                  </tr>
                );
              })
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
