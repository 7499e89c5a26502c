import { useState, type FormEvent } from "react";
import { post } from "../../api/client";
import type { Queue } from "../../api/types";
import { Dialog } from "../../ui/dialog";
import { SelectField } from "../../ui/fields";
import { ErrorNotice, Notice, fieldErrors } from "../../ui/notices";
import type { Interaction, UserSummary } from "./workspace-types";

type Target = "queue" | "agent";

/**
 * Gives the interaction to a queue (it waits there for whoever is next) or to one agent (who holds it
 * at once). Agents are listed when Mailroom lets this user see them (administrators).
 */
export function TransferDialog({
  interaction,
  queues,
  agents,
  onClose,
  onTransferred,
}: {
  interaction: Interaction;
  queues: Queue[];
  /** null: this user may not list agents */
  agents: UserSummary[] | null;
  onClose: () => void;
  onTransferred: (result: Interaction, to: string) => void;
}) {
  const otherQueues = queues.filter((q) => q.id !== interaction.queueId);
  const pickable = (agents ?? []).filter((a) => !a.disabled && a.id !== interaction.agentId);
  const [target, setTarget] = useState<Target>("queue");
  const [queueId, setQueueId] = useState(otherQueues[0]?.id ?? queues[0]?.id ?? "");
  const [agentId, setAgentId] = useState(pickable[0]?.id ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const errors = fieldErrors(error);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = target === "queue" ? { queueId } : { agentId };
    const name =
      target === "queue" ? (queues.find((q) => q.id === queueId)?.name ?? "the queue") : (pickable.find((a) => a.id === agentId)?.username ?? "the agent");
    post<Interaction>(`/api/v1/interactions/${encodeURIComponent(interaction.id)}/transfer`, body).then(
      (result) => {
        setBusy(false);
        onTransferred(result, name);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  return (
    <Dialog title="Transfer" onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <fieldset>
          <legend>Give this interaction to</legend>
          <label className="ws-radio">
            <input type="radio" name="target" value="queue" checked={target === "queue"} onChange={() => setTarget("queue")} />a queue: it waits there for the next
            free agent
          </label>
          <label className="ws-radio">
            <input type="radio" name="target" value="agent" checked={target === "agent"} onChange={() => setTarget("agent")} disabled={agents === null} />
            an agent: they hold it at once
          </label>
          {agents === null ? <p className="field-hint">Only administrators can pick an agent. Transfer it to a queue instead, or ask a supervisor.</p> : null}
        </fieldset>
        {target === "queue" ? (
          queues.length ? (
            <SelectField label="Queue" value={queueId} onChange={setQueueId} choices={queues.map((q) => ({ value: q.id, label: q.id === interaction.queueId ? `${q.name} (its queue now)` : q.name }))} error={errors.queueId} required />
          ) : (
            <Notice kind="warning">There is no queue to transfer to. A supervisor creates queues on the Routing page.</Notice>
          )
        ) : pickable.length ? (
          <SelectField
            label="Agent"
            value={agentId}
            onChange={setAgentId}
            choices={pickable.map((a) => ({ value: a.id, label: a.displayName ? `${a.displayName} (${a.username})` : a.username }))}
            error={errors.agentId}
            required
          />
        ) : (
          <Notice kind="warning">There is no other enabled user to transfer to.</Notice>
        )}
        <ErrorNotice error={error} showDetails={false} />
        <div className="actions">
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || (target === "queue" ? !queueId : !agentId)}>
            {busy ? "Transferring…" : "Transfer"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
