import { useState } from "react";
import { errorMessage, get, post } from "../../api/client";
import type { List, Queue } from "../../api/types";
import { Link, useRoute } from "../../router";
import { useMe } from "../../session";
import { EmptyState, Notice } from "../../ui/notices";
import { useResource } from "../../use-resource";
import { AvailabilitySwitch } from "./availability";
import { InteractionList } from "./interaction-list";
import { InteractionPane } from "./interaction-pane";
import { NewEmailDialog, NewEmailsSent } from "./new-email";
import { QueuePanel } from "./queue-panel";
import { filtersFrom, filtersSearch, listPath, loadMyQueues, selectedFrom, type ListFilters } from "./workspace-data";
import type { FromAddress, Interaction, InteractionPage, SentEmail, UserSummary } from "./workspace-types";
import "./workspace.css";

type Flash = { kind: "info" | "success" | "warning"; text: string; forId: string | null };

const firstPage = 50;

/**
 * The agent's desk: their queues and what waits there, the interactions they hold, and the open one
 * (its id in the address, so a reload or a shared link opens it again) to read, answer and finish.
 */
export function WorkspacePage() {
  const me = useMe();
  const { path, search, navigate } = useRoute();
  const selectedId = selectedFrom(path);
  const filters = filtersFrom(search, me);
  const qs = filtersSearch(filters);
  const [more, setMore] = useState({ forFilters: qs, limit: firstPage });
  const limit = more.forFilters === qs ? more.limit : firstPage;
  const [flash, setFlash] = useState<Flash | null>(null);
  const [accepting, setAccepting] = useState(false);
  const [focusId, setFocusId] = useState<string | null>(null);
  const [writing, setWriting] = useState(false);
  const [sentNew, setSentNew] = useState<SentEmail[]>([]);

  const interactionEvent = (e: { type: string }) => e.type === "interaction.created" || e.type === "interaction.updated";
  const myQueues = useResource(`my-queues:${me.id}`, () => loadMyQueues(me), interactionEvent);
  const queues = useResource("queues", () => get<List<Queue>>("/api/v1/queues"));
  const agents = useResource(`agents:${me.id}`, () =>
    // only administrators may list users: the others pick queues, not people
    me.role === "admin" ? get<List<UserSummary>>("/api/v1/users").then((r) => r.items) : Promise.resolve(null),
  );
  const fromAddresses = useResource(`from-addresses:${me.id}`, () => get<FromAddress[]>("/api/v1/me/from-addresses"));
  const listUrl = listPath(filters, me, limit);
  const list = useResource(`list:${listUrl}`, () => get<InteractionPage>(listUrl), interactionEvent);

  const queueList = queues.data?.items ?? [];

  const setFilters = (next: ListFilters) => {
    const where = selectedId ? `/workspace/${encodeURIComponent(selectedId)}` : "/workspace";
    navigate(where + filtersSearch(next), { replace: true });
  };

  const acceptNext = () => {
    setAccepting(true);
    setFlash(null);
    post<Interaction | undefined>("/api/v1/interactions/accept-next").then(
      (taken) => {
        setAccepting(false);
        if (!taken) {
          setFlash({ kind: "info", text: "Nothing is waiting in your queues right now.", forId: selectedId });
          return;
        }
        setFocusId(taken.id);
        setFlash({ kind: "success", text: `You accepted “${taken.subject || "(no subject)"}”.`, forId: taken.id });
        navigate(`/workspace/${encodeURIComponent(taken.id)}${qs}`);
      },
      (err: unknown) => {
        setAccepting(false);
        setFlash({ kind: "warning", text: errorMessage(err), forId: selectedId });
      },
    );
  };

  return (
    <div className="ws">
      <div className="ws-top">
        <h1>Workspace</h1>
        <span className="spacer" />
        <AvailabilitySwitch />
        <button type="button" onClick={() => setWriting(true)}>
          New email
        </button>
      </div>
      <div className={selectedId ? "ws-panes ws-has-selection" : "ws-panes"}>
        <div className="ws-side">
          <QueuePanel
            me={me}
            queues={myQueues}
            busy={accepting}
            onAcceptNext={acceptNext}
            onShowQueue={(queueId) => setFilters({ ...filters, view: "waiting", queueId })}
          />
          <InteractionList
            me={me}
            filters={filters}
            onFilters={setFilters}
            list={list}
            limit={limit}
            onMore={() => setMore({ forFilters: qs, limit: Math.min(200, limit + firstPage) })}
            selectedId={selectedId}
            search={qs}
            queues={queueList}
            agents={agents.data ?? null}
          />
        </div>
        <div className="ws-main">
          {flash && flash.forId === selectedId ? (
            <div className="ws-flash">
              <Notice kind={flash.kind}>{flash.text}</Notice>
            </div>
          ) : null}
          <NewEmailsSent sent={sentNew} />
          {selectedId ? (
            <>
              <Link className="ws-back" to={`/workspace${qs}`}>
                ← Back to the list
              </Link>
              <InteractionPane
                key={selectedId}
                id={selectedId}
                me={me}
                queues={queueList}
                agents={agents.data ?? null}
                fromAddresses={fromAddresses.data}
                search={qs}
                autoFocus={focusId === selectedId}
                onLeave={(text) => {
                  setFlash({ kind: "success", text, forId: null });
                  navigate(`/workspace${qs}`);
                }}
              />
            </>
          ) : (
            <section className="panel ws-detail ws-nothing-open">
              <EmptyState title="No interaction open">Pick one from the list, or take the oldest waiting one with Accept next.</EmptyState>
            </section>
          )}
        </div>
      </div>
      {writing ? (
        <NewEmailDialog
          fromAddresses={fromAddresses.data}
          onClose={() => setWriting(false)}
          onSent={(sent) => {
            setWriting(false);
            setSentNew((list) => [sent, ...list]);
          }}
        />
      ) : null}
    </div>
  );
}
