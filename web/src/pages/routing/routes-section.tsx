import { Dialog } from "../../ui/dialog";
import { useState } from "react";
import { del, get, patch, post } from "../../api/client";
import type { List, Queue } from "../../api/types";
import { EmptyState, ErrorNotice, Loading, Notice } from "../../ui/notices";
import type { Resource } from "../../use-resource";
import { useResource } from "../../use-resource";
import { ConfirmDialog } from "../../ui/confirm-dialog";
import { RouteForm, type RouteInput } from "./route-form";
import { byPrecedence, type Route } from "./routing-types";

const routePath = (id: string) => `/api/v1/routes/${encodeURIComponent(id)}`;

export function RoutesSection({ queues }: { queues: Resource<List<Queue>> }) {
  const routes = useResource("routes", () => get<List<Route>>("/api/v1/routes"));
  const [open, setOpen] = useState<{ kind: "edit" | "delete"; route: Route } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const queueList = queues.data?.items ?? [];
  const queueName = (id: string) => queueList.find((q) => q.id === id)?.name ?? "A queue that no longer exists";
  const sorted = routes.data ? [...routes.data.items].sort(byPrecedence) : undefined;
  const done = (message: string) => {
    setOpen(null);
    setNotice(message);
    routes.reload();
  };

  const create = async (input: RouteInput) => {
    setNotice(null);
    const route = await post<Route>("/api/v1/routes", input);
    done(`Email to ${route.pattern} now goes to ${queueName(route.queueId)} (priority ${route.priority}).`);
  };
  const change = (route: Route) => async (input: RouteInput) => {
    const saved = await patch<Route>(routePath(route.id), input);
    done(`The route for ${saved.pattern} is saved.`);
  };

  return (
    <section className="panel" aria-labelledby="routes-title">
      <h2 id="routes-title">Routes</h2>
      <p className="muted small">
        A route sends email addressed to one address (support@acme.test) or to any address of a domain (@acme.test) to a queue. When several routes match,
        the lowest priority number wins; on a tie an address wins over a domain, then the older route.
      </p>
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      {routes.error ? <ErrorNotice error={routes.error} title="The routes could not be loaded." /> : null}
      {routes.loading || queues.loading ? (
        <Loading label="Loading routes…" minHeight="8rem" />
      ) : sorted?.length === 0 ? (
        <EmptyState title="No route yet">All email goes to the queue of the application whose mailbox received it.</EmptyState>
      ) : sorted ? (
        <div className="table-wrap">
          <table className="stack-table">
            <thead>
              <tr>
                <th scope="col">Priority</th>
                <th scope="col">Address or domain</th>
                <th scope="col">Queue</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((route) => (
                <tr key={route.id}>
                  <td className="priority" data-label="Priority">{route.priority}</td>
                  <th scope="row">{route.pattern}</th>
                  <td data-label="Queue">{queueName(route.queueId)}</td>
                  <td>
                    <div className="row-actions">
                      <button type="button" aria-label={`Edit the route for ${route.pattern} to ${queueName(route.queueId)}`} onClick={() => setOpen({ kind: "edit", route })}>
                        Edit
                      </button>
                      <button
                        type="button"
                        className="danger"
                        aria-label={`Delete the route for ${route.pattern} to ${queueName(route.queueId)}`}
                        onClick={() => setOpen({ kind: "delete", route })}
                      >
                        Delete
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <h3>New route</h3>
      {queues.loading ? (
        <Loading minHeight="4rem" />
      ) : queueList.length === 0 ? (
        <p className="muted">Create a queue first: a route sends email to a queue.</p>
      ) : (
        <RouteForm queues={queueList} submitLabel="Add route" onSubmit={create} />
      )}
      {open?.kind === "edit" ? (
        <Dialog title={`Route for ${open.route.pattern}`} onClose={() => setOpen(null)}>
          <RouteForm route={open.route} queues={queueList} submitLabel="Save" onSubmit={change(open.route)} onCancel={() => setOpen(null)} />
        </Dialog>
      ) : null}
      {open?.kind === "delete" ? (
        <ConfirmDialog
          title="Delete this route?"
          confirmLabel="Delete route"
          onClose={() => setOpen(null)}
          onConfirm={async () => {
            await del(routePath(open.route.id));
            done(`The route for ${open.route.pattern} is deleted.`);
          }}
        >
          <p>
            Email to {open.route.pattern} stops going to {queueName(open.route.queueId)}; from the next message it follows the other routes, or goes to the
            queue of its application.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
