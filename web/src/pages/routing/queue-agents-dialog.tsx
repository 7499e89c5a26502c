import { Dialog } from "../../ui/dialog";
import { useState, type FormEvent } from "react";
import { put } from "../../api/client";
import type { Queue } from "../../api/types";
import { Link } from "../../router";
import { EmptyState, fieldErrors } from "../../ui/notices";
import { FormActions, FormErrorNotice, useSaveForm } from "../../ui/form-kit";
import { roleLabel, userLabel, type User } from "../users/user-types";
import type { QueueAgents } from "./routing-types";

/**
 * Who works a queue: a checklist of the enabled agents, and of anyone else who works it now (a
 * supervisor set through the API), so that saving never drops someone unseen.
 */
export function QueueAgentsDialog({
  queue,
  users,
  current,
  onClose,
  onSaved,
}: {
  queue: Queue;
  users: User[];
  current: string[];
  onClose: () => void;
  onSaved: (count: number) => void;
}) {
  const candidates = users.filter((u) => !u.disabled && (u.role === "agent" || current.includes(u.id)));
  // a disabled user cannot work a queue: the API refuses them, so they leave it with this save
  const leaving = users.filter((u) => u.disabled && current.includes(u.id));
  const [chosen, setChosen] = useState(() => new Set(current.filter((id) => candidates.some((u) => u.id === id))));
  const { save, form } = useSaveForm();
  const [sent, setSent] = useState<string[]>([]);
  const problems = fieldErrors(save.error);
  const problemOf = (id: string) => {
    const index = sent.indexOf(id);
    return index === -1 ? undefined : problems[`userIds.${index}`];
  };

  const toggle = (id: string, on: boolean) =>
    setChosen((before) => {
      const next = new Set(before);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    // sorted as the API sorts them, so that a problem at userIds.N names the right person
    const userIds = [...chosen].sort();
    setSent(userIds);
    save.run(async () => {
      const saved = await put<QueueAgents>(`/api/v1/queues/${encodeURIComponent(queue.id)}/agents`, { userIds });
      onSaved(saved.userIds.length);
    });
  };

  return (
    <Dialog title={`Agents of ${queue.name}`} onClose={onClose}>
      <form ref={form} className="form" onSubmit={submit} noValidate>
        {candidates.length === 0 ? (
          <EmptyState title="No agents yet">
            Create users with the role Agent on the <Link to="/users">Users</Link> page, then choose them here.
          </EmptyState>
        ) : (
          <fieldset>
            <legend>Agents who work {queue.name}</legend>
            <ul className="checklist">
              {candidates.map((user) => {
                const problem = problemOf(user.id);
                const id = `agent-${user.id}`;
                return (
                  <li key={user.id}>
                    <input
                      id={id}
                      type="checkbox"
                      checked={chosen.has(user.id)}
                      onChange={(e) => toggle(user.id, e.target.checked)}
                      aria-invalid={problem ? true : undefined}
                      aria-describedby={problem ? `${id}-error` : undefined}
                    />
                    <label htmlFor={id}>{userLabel(user)}</label>
                    {user.role === "agent" ? null : <span className="field-hint">{roleLabel(user.role)}</span>}
                    {problem ? (
                      <span className="field-error" id={`${id}-error`}>
                        {problem}
                      </span>
                    ) : null}
                  </li>
                );
              })}
            </ul>
          </fieldset>
        )}
        {leaving.length > 0 ? (
          <p className="muted small">
            {leaving.map((u) => u.username).join(", ")} {leaving.length === 1 ? "is" : "are"} disabled and stop working this queue when you save.
          </p>
        ) : null}
        <FormErrorNotice error={save.error} fields={["userIds"]} />
        <FormActions onCancel={onClose} busy={save.busy} label="Save agents" busyLabel="Saving…" />
      </form>
    </Dialog>
  );
}
