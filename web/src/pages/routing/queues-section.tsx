import { useState, type FormEvent } from "react";
import { get, post } from "../../api/client";
import type { List, Queue } from "../../api/types";
import { useMe } from "../../session";
import { TextField } from "../../ui/fields";
import { EmptyState, ErrorNotice, fieldErrors, Loading, Notice } from "../../ui/notices";
import type { Resource } from "../../use-resource";
import { useResource } from "../../use-resource";
import { FormErrorNotice, useSaveForm } from "../../ui/form-kit";
import { userLabel, type User } from "../users/user-types";
import { QueueAgentsDialog } from "./queue-agents-dialog";
import type { QueueAgents } from "./routing-types";

export function QueuesSection({ queues }: { queues: Resource<List<Queue>> }) {
  const me = useMe();
  // GET /api/v1/users is for administrators only, so a supervisor sees how many agents a queue has, not who
  const canListUsers = me.role === "admin";
  const list = queues.data?.items;
  const ids = (list ?? []).map((q) => q.id);
  const agents = useResource(`queue-agents:${ids.join(",")}`, async () => {
    const answers = await Promise.all(ids.map((id) => get<QueueAgents>(`/api/v1/queues/${encodeURIComponent(id)}/agents`)));
    return new Map(ids.map((id, i) => [id, answers[i]?.userIds ?? []]));
  });
  const users = useResource(`routing-users:${canListUsers}`, () => (canListUsers ? get<List<User>>("/api/v1/users") : Promise.resolve(null)));
  const [editing, setEditing] = useState<Queue | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const nameOf = (id: string) => {
    const user = users.data?.items.find((u) => u.id === id);
    return user ? userLabel(user) + (user.disabled ? " (disabled)" : "") : "A user who no longer exists";
  };

  return (
    <section className="panel" aria-labelledby="queues-title">
      <h2 id="queues-title">Queues</h2>
      <p className="muted small">Agents see and accept only the interactions of the queues they work.</p>
      {canListUsers ? null : (
        <Notice>Only administrators can see the list of users, so this page shows how many agents work each queue. Ask an administrator to change who works a queue.</Notice>
      )}
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      {queues.error ? <ErrorNotice error={queues.error} title="The queues could not be loaded." /> : null}
      {agents.error ? <ErrorNotice error={agents.error} title="The agents of the queues could not be loaded." /> : null}
      {users.error ? <ErrorNotice error={users.error} title="The users could not be loaded." /> : null}
      {queues.loading ? (
        <Loading label="Loading queues…" minHeight="8rem" />
      ) : list?.length === 0 ? (
        <EmptyState title="No queue yet">Create the first queue below: applications and routes send email to queues.</EmptyState>
      ) : list ? (
        <div className="table-wrap">
          <table className="stack-table">
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Agents</th>
                {canListUsers ? (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.map((queue) => {
                const userIds = agents.data?.get(queue.id);
                return (
                  <tr key={queue.id}>
                    <th scope="row">{queue.name}</th>
                    <td data-label="Agents">
                      {userIds === undefined ? (
                        <span className="muted">…</span>
                      ) : userIds.length === 0 ? (
                        <span className="muted">No agents</span>
                      ) : canListUsers && users.data ? (
                        <ul className="agent-names">
                          {userIds.map((id) => (
                            <li key={id}>{nameOf(id)}</li>
                          ))}
                        </ul>
                      ) : (
                        `${userIds.length} ${userIds.length === 1 ? "agent" : "agents"}`
                      )}
                    </td>
                    {canListUsers ? (
                      <td>
                        <div className="row-actions">
                          <button type="button" aria-label={`Agents of ${queue.name}`} onClick={() => setEditing(queue)} disabled={!users.data || !userIds}>
                            Agents…
                          </button>
                        </div>
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      <NewQueueForm
        onCreated={(queue) => {
          setNotice(`The queue ${queue.name} is created.`);
          queues.reload();
        }}
      />
      {editing && users.data && agents.data ? (
        <QueueAgentsDialog
          queue={editing}
          users={users.data.items}
          current={agents.data.get(editing.id) ?? []}
          onClose={() => setEditing(null)}
          onSaved={(count) => {
            setEditing(null);
            setNotice(`${editing.name} is worked by ${count} ${count === 1 ? "agent" : "agents"} now.`);
            agents.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function NewQueueForm({ onCreated }: { onCreated: (queue: Queue) => void }) {
  const [name, setName] = useState("");
  const { save, form } = useSaveForm();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.run(async () => {
      const queue = await post<Queue>("/api/v1/queues", { name });
      setName("");
      onCreated(queue);
    });
  };
  return (
    <form ref={form} className="form" onSubmit={submit} noValidate>
      <div className="inline-form">
        <TextField label="New queue" value={name} onChange={setName} error={fieldErrors(save.error)["name"]} placeholder="e.g. Billing" autoComplete="off" />
        <button type="submit" disabled={save.busy}>
          {save.busy ? "Creating…" : "Create queue"}
        </button>
      </div>
      <FormErrorNotice error={save.error} fields={["name"]} />
    </form>
  );
}
