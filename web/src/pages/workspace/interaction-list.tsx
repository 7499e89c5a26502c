import type { Me, Queue } from "../../api/types";
import { Link } from "../../router";
import { SelectField, type Choice } from "../../ui/fields";
import { EmptyState, ErrorNotice, Loading } from "../../ui/notices";
import { Time } from "../../ui/time";
import type { Resource } from "../../use-resource";
import { flagBadges, senderShort, type ListFilters, type ListView } from "./workspace-data";
import type { InteractionPage, UserSummary } from "./workspace-types";

const viewLabels: Record<ListView, string> = {
  mine: "Assigned to me",
  waiting: "Waiting in my queues",
  done: "Done by me",
  all: "All interactions",
};

const emptyTexts: Record<ListView, { title: string; body: string }> = {
  mine: { title: "You hold no interaction", body: "Use Accept next to take the oldest one waiting in your queues." },
  waiting: { title: "No interactions waiting in your queues", body: "New emails appear here as they arrive." },
  done: { title: "Nothing done yet", body: "Interactions you mark done are listed here." },
  all: { title: "No interaction matches these filters", body: "Change or clear the filters above." },
};

export function InteractionList({
  me,
  filters,
  onFilters,
  list,
  limit,
  onMore,
  selectedId,
  search,
  queues,
  agents,
}: {
  me: Me;
  filters: ListFilters;
  onFilters: (next: ListFilters) => void;
  list: Resource<InteractionPage>;
  limit: number;
  onMore: () => void;
  selectedId: string | null;
  search: string;
  queues: Queue[];
  agents: UserSummary[] | null;
}) {
  const seesAll = me.role !== "agent";
  const views: ListView[] = seesAll ? ["mine", "waiting", "done", "all"] : ["mine", "waiting", "done"];
  const queueChoices: Choice[] = [{ value: "", label: "All queues" }, ...queues.map((q) => ({ value: q.id, label: q.name }))];
  const items = list.data?.items ?? [];
  return (
    <section className="panel ws-list" aria-labelledby="ws-list-title">
      <h2 id="ws-list-title">Interactions</h2>
      <div className="ws-filters">
        <SelectField label="Show" value={filters.view} onChange={(v) => onFilters({ ...filters, view: v as ListView })} choices={views.map((v) => ({ value: v, label: viewLabels[v] }))} />
        <SelectField label="Queue" value={filters.queueId} onChange={(v) => onFilters({ ...filters, queueId: v })} choices={queueChoices} />
        {filters.view === "all" ? (
          <>
            <SelectField
              label="State"
              value={filters.state}
              onChange={(v) => onFilters({ ...filters, state: v === "queued" || v === "assigned" || v === "done" ? v : "" })}
              choices={[
                { value: "", label: "Any state" },
                { value: "queued", label: "Waiting" },
                { value: "assigned", label: "Assigned" },
                { value: "done", label: "Done" },
              ]}
            />
            {agents ? (
              <SelectField
                label="Agent"
                value={filters.agentId}
                onChange={(v) => onFilters({ ...filters, agentId: v })}
                choices={[{ value: "", label: "Any agent" }, ...agents.map((a) => ({ value: a.id, label: a.displayName ? `${a.displayName} (${a.username})` : a.username }))]}
              />
            ) : null}
          </>
        ) : null}
      </div>
      {list.error ? <ErrorNotice error={list.error} title="The list could not be loaded." /> : null}
      {/* the same height loading, empty or short, so that what follows does not move; while other
          filters' list is still shown, it is dimmed and marked busy */}
      <div className="ws-list-body" aria-busy={list.stale}>
        {!list.data ? (
          list.error ? null : <Loading minHeight="12rem" />
        ) : items.length === 0 ? (
          <EmptyState title={emptyTexts[filters.view].title}>{emptyTexts[filters.view].body}</EmptyState>
        ) : (
          <ul className="ws-items" aria-label={viewLabels[filters.view]}>
            {items.map((i) => (
              <li key={i.id}>
                <Link to={`/workspace/${encodeURIComponent(i.id)}${search}`} className="ws-item" aria-current={i.id === selectedId ? "page" : undefined}>
                  <span className="ws-item-subject">{i.subject || "(no subject)"}</span>
                  <span className="ws-item-meta">
                    <span className="ws-item-from">{senderShort(i.from)}</span>
                    <Time iso={i.receivedAt} />
                  </span>
                  <span className="ws-item-badges">
                    {filters.view === "all" ? <span className="badge">{i.state === "queued" ? "Waiting" : i.state === "assigned" ? "Assigned" : "Done"}</span> : null}
                    {flagBadges(i.flags).map((f) => (
                      <span key={f.label} className={`badge badge-${f.kind}`}>
                        {f.label}
                      </span>
                    ))}
                    {i.attachments.some((a) => !a.inline) ? <span className="badge">Attachments</span> : null}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </div>
      {list.data?.nextCursor ? (
        limit < 200 ? (
          <div className="actions">
            <button type="button" onClick={onMore}>
              Show more
            </button>
          </div>
        ) : (
          <p className="muted small">Showing the newest 200: narrow the filters to find older ones.</p>
        )
      ) : null}
    </section>
  );
}
