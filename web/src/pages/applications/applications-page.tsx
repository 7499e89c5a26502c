import { useState } from "react";
import { del, get, patch, post } from "../../api/client";
import type { List, Mailbox, Queue } from "../../api/types";
import { Link } from "../../router";
import { EmptyState, ErrorNotice, Loading, Notice } from "../../ui/notices";
import { useResource } from "../../use-resource";
import { ConfirmDialog } from "../../ui/confirm-dialog";
import { ApplicationFormDialog } from "./application-form";
import type { Application, ApplicationInput } from "./application-types";
import { MailboxState } from "./mailbox-state";
import "./applications.css";

type Open = { kind: "create" } | { kind: "edit" | "disable" | "delete"; application: Application } | null;

const applicationPath = (id: string) => `/api/v1/applications/${encodeURIComponent(id)}`;

export function ApplicationsPage() {
  const applications = useResource("applications", () => get<List<Application>>("/api/v1/applications"));
  // reloaded after every change here, and when a mailbox's connection changes, since enabling is what starts them
  const mailboxes = useResource("application-mailboxes", () => get<List<Mailbox>>("/api/v1/mailboxes?clientType=all"), (e) => e.type === "mailbox.status" || e.type === "mailboxes.changed");
  const queues = useResource("queues", () => get<List<Queue>>("/api/v1/queues"));
  const [open, setOpen] = useState<Open>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const apps = applications.data?.items;
  const boxes = mailboxes.data?.items ?? [];
  const queueList = queues.data?.items ?? [];
  const inbound = boxes.filter((m) => m.clientType === "inbound");
  const outbound = boxes.find((m) => m.clientType === "outbound");
  const loading = applications.loading || mailboxes.loading || queues.loading;
  const queueName = (id: string) => queueList.find((q) => q.id === id)?.name ?? "A queue that no longer exists";
  const mailboxNames = (a: Application) => a.mailboxIds.map((id) => boxes.find((m) => m.id === id)?.name ?? "an unknown mailbox");

  const done = (message: string) => {
    setOpen(null);
    setError(null);
    setNotice(message);
    applications.reload();
    mailboxes.reload();
  };
  const begin = (next: Open) => {
    setNotice(null);
    setError(null);
    setOpen(next);
  };
  const enable = (a: Application) => {
    setNotice(null);
    setError(null);
    patch<Application>(applicationPath(a.id), { enabled: true }).then(
      () => done(`${a.name} is enabled: its mailboxes are enabled and collect mail.`),
      (err: unknown) => setError(err),
    );
  };
  const save = (current: Application | undefined) => async (input: ApplicationInput) => {
    if (current) {
      await patch<Application>(applicationPath(current.id), input);
      done(`${input.name} is saved.${input.enabled ? " Its mailboxes are enabled." : " Its mailboxes are disabled."}`);
    } else {
      const { autoAcknowledge, ...rest } = input;
      await post<Application>("/api/v1/applications", autoAcknowledge ? input : rest);
      done(`${input.name} is created.${input.enabled ? " Its mailboxes are enabled." : " It is disabled, and so are its mailboxes."}`);
    }
  };

  return (
    <section aria-labelledby="applications-title">
      <h1 id="applications-title">Applications</h1>
      <p className="muted page-intro">
        An application collects the email of its inbound mailboxes into a queue. Enabling it is what enables those mailboxes: a mailbox collects mail only
        while an enabled application lists it, and the outbound mailbox sends only while at least one application is enabled.
      </p>
      <div className="toolbar">
        <button type="button" className="primary" onClick={() => begin({ kind: "create" })} disabled={loading || queueList.length === 0}>
          New application
        </button>
        <span className="spacer" />
        {outbound ? (
          <span className="outbound-state">
            Outbound mailbox {outbound.name}: <MailboxState mailbox={outbound} />
          </span>
        ) : null}
      </div>
      {loading ? null : (
        <>
          {queueList.length === 0 ? (
            <Notice kind="warning">
              No queue yet. An application sends its email to a queue: create one on the <Link to="/routing">Routing</Link> page first.
            </Notice>
          ) : null}
          {inbound.length === 0 ? (
            <Notice kind="warning">
              No inbound mailbox yet. Add one on the <Link to="/mailboxes">Mailboxes</Link> page; it stays disabled until an enabled application lists it.
            </Notice>
          ) : null}
        </>
      )}
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      <ErrorNotice error={error} />
      {applications.error ? <ErrorNotice error={applications.error} title="The applications could not be loaded." /> : null}
      {mailboxes.error ? <ErrorNotice error={mailboxes.error} title="The mailboxes could not be loaded." /> : null}
      {queues.error ? <ErrorNotice error={queues.error} title="The queues could not be loaded." /> : null}
      {loading ? (
        <Loading label="Loading applications…" minHeight="14rem" />
      ) : apps?.length === 0 ? (
        <EmptyState title="No application yet">Create one to start collecting the email of your inbound mailboxes.</EmptyState>
      ) : apps ? (
        <div className="table-wrap">
          <table className="stack-table">
            <thead>
              <tr>
                <th scope="col">Application</th>
                <th scope="col">State</th>
                <th scope="col">Queue</th>
                <th scope="col">Mailboxes</th>
                <th scope="col">Acknowledgement</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {apps.map((a) => (
                <tr key={a.id}>
                  <th scope="row">{a.name}</th>
                  <td data-label="State">{a.enabled ? <span className="badge badge-ok">Enabled</span> : <span className="badge">Disabled</span>}</td>
                  <td data-label="Queue">{queueName(a.queueId)}</td>
                  <td data-label="Mailboxes">
                    {a.mailboxIds.length === 0 ? (
                      <span className="muted">No mailbox</span>
                    ) : (
                      <ul className="mailbox-states" aria-label={`Mailboxes of ${a.name}`}>
                        {a.mailboxIds.map((id) => {
                          const mailbox = boxes.find((m) => m.id === id);
                          return (
                            <li key={id}>
                              <span className="mailbox-name">{mailbox?.name ?? "Unknown mailbox"}</span> {mailbox ? <MailboxState mailbox={mailbox} /> : null}
                            </li>
                          );
                        })}
                      </ul>
                    )}
                  </td>
                  <td data-label="Acknowledgement">{a.autoAcknowledge?.enabled ? "On" : <span className="muted">Off</span>}</td>
                  <td>
                    <div className="row-actions">
                      <button type="button" aria-label={`Edit ${a.name}`} onClick={() => begin({ kind: "edit", application: a })}>
                        Edit
                      </button>
                      {a.enabled ? (
                        <button type="button" aria-label={`Disable ${a.name}`} onClick={() => begin({ kind: "disable", application: a })}>
                          Disable
                        </button>
                      ) : (
                        <button type="button" aria-label={`Enable ${a.name}`} onClick={() => enable(a)}>
                          Enable
                        </button>
                      )}
                      <button type="button" className="danger" aria-label={`Delete ${a.name}`} onClick={() => begin({ kind: "delete", application: a })}>
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

      {open?.kind === "create" || open?.kind === "edit" ? (
        <ApplicationFormDialog
          {...(open.kind === "edit" ? { application: open.application } : {})}
          applications={apps ?? []}
          mailboxes={boxes}
          queues={queueList}
          onClose={() => setOpen(null)}
          onSave={save(open.kind === "edit" ? open.application : undefined)}
        />
      ) : null}
      {open?.kind === "disable" ? (
        <ConfirmDialog
          title={`Disable ${open.application.name}?`}
          confirmLabel="Disable"
          onClose={() => setOpen(null)}
          onConfirm={async () => {
            await patch<Application>(applicationPath(open.application.id), { enabled: false });
            done(`${open.application.name} is disabled, and so are its mailboxes.`);
          }}
        >
          <p>{consequence(mailboxNames(open.application), "is disabled and stops collecting email", "are disabled and stop collecting email")}</p>
          <p className="muted">When no application is enabled any more, the outbound mailbox is disabled too and no email is sent.</p>
        </ConfirmDialog>
      ) : null}
      {open?.kind === "delete" ? (
        <ConfirmDialog
          title={`Delete ${open.application.name}?`}
          confirmLabel="Delete application"
          onClose={() => setOpen(null)}
          onConfirm={async () => {
            await del(applicationPath(open.application.id));
            done(`${open.application.name} is deleted.`);
          }}
        >
          <p>{consequence(mailboxNames(open.application), "is disabled and can be given to another application", "are disabled and can be given to another application")}</p>
          <p className="muted">Interactions already in the queues stay there.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function consequence(names: string[], one: string, many: string): string {
  if (names.length === 0) return "It lists no mailbox.";
  return names.length === 1 ? `Its mailbox ${names.join("")} ${one}.` : `Its mailboxes ${names.join(", ")} ${many}.`;
}
