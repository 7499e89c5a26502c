import { useState, type FormEvent } from "react";
import type { Queue } from "../../api/types";
import { SelectField, TextField } from "../../ui/fields";
import { FormErrorNotice, useSaveForm } from "../../ui/form-kit";
import type { Route } from "./routing-types";

export interface RouteInput {
  pattern: string;
  queueId: string;
  priority?: number;
}

/**
 * The fields of a route, for a new one and for a change. The priority goes to the API as typed, so
 * that a fraction or a negative number is refused in the API's words; left empty on a new route, the
 * API gives it 100.
 */
export function RouteForm({
  route,
  queues,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  route?: Route;
  queues: Queue[];
  submitLabel: string;
  onSubmit: (input: RouteInput) => Promise<void>;
  onCancel?: () => void;
}) {
  const [pattern, setPattern] = useState(route?.pattern ?? "");
  const [queueId, setQueueId] = useState(route?.queueId ?? "");
  const [priority, setPriority] = useState(route ? String(route.priority) : "");
  const { save, form, errors } = useSaveForm();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.run(async () => {
      const typed = priority.trim();
      await onSubmit({ pattern, queueId, ...(typed === "" ? {} : { priority: Number(typed) }) });
      if (!route) {
        setPattern("");
        setPriority("");
      }
    });
  };

  const choices = [{ value: "", label: "Choose a queue", disabled: true }, ...queues.map((q) => ({ value: q.id, label: q.name }))];
  return (
    <form ref={form} className="form" onSubmit={submit} noValidate aria-label={route ? `Route ${route.pattern}` : "New route"}>
      <div className={onCancel ? "form" : "route-form"}>
        <TextField
          label="Address or domain"
          value={pattern}
          onChange={setPattern}
          error={errors["pattern"]}
          placeholder="support@acme.test or @acme.test"
          autoComplete="off"
          required
        />
        <SelectField label="Queue" value={queueId} onChange={setQueueId} choices={choices} error={errors["queueId"]} required />
        <TextField
          label="Priority"
          type="number"
          value={priority}
          onChange={setPriority}
          error={errors["priority"]}
          placeholder="100"
          {...(onCancel ? { hint: "0 to 1000000; the lowest number wins." } : {})}
        />
        {onCancel ? null : (
          <div className="form-submit">
            <button type="submit" className="primary" disabled={save.busy}>
              {save.busy ? "Saving…" : submitLabel}
            </button>
          </div>
        )}
      </div>
      <FormErrorNotice error={save.error} fields={["pattern", "queueId", "priority"]} />
      {onCancel ? (
        <div className="actions">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={save.busy}>
            {save.busy ? "Saving…" : submitLabel}
          </button>
        </div>
      ) : null}
    </form>
  );
}
