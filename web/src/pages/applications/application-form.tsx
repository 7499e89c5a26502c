import { Dialog } from "../../ui/dialog";
import { useState, type FormEvent } from "react";
import type { Mailbox, Queue } from "../../api/types";
import { Link } from "../../router";
import { CheckboxField, SelectField, TextAreaField, TextField } from "../../ui/fields";
import { Notice } from "../../ui/notices";
import { FormErrorNotice, useSaveForm } from "../../ui/form-kit";
import type { Application, ApplicationInput } from "./application-types";
import { MailboxState } from "./mailbox-state";

/**
 * Creates or changes an application. Every field goes to the API as chosen, and its refusals are
 * shown at their fields; a mailbox another application lists is shown but cannot be chosen, since a
 * mailbox feeds one application.
 */
export function ApplicationFormDialog({
  application,
  applications,
  mailboxes,
  queues,
  onClose,
  onSave,
}: {
  application?: Application;
  applications: Application[];
  mailboxes: Mailbox[];
  queues: Queue[];
  onClose: () => void;
  onSave: (input: ApplicationInput) => Promise<void>;
}) {
  const [name, setName] = useState(application?.name ?? "");
  const [queueId, setQueueId] = useState(application?.queueId ?? (queues.length === 1 ? (queues[0]?.id ?? "") : ""));
  const [mailboxIds, setMailboxIds] = useState<string[]>(application?.mailboxIds ?? []);
  const [enabled, setEnabled] = useState(application?.enabled ?? true);
  const [ackOn, setAckOn] = useState(application?.autoAcknowledge?.enabled ?? false);
  const [ackSubject, setAckSubject] = useState(application?.autoAcknowledge?.subject ?? "");
  const [ackText, setAckText] = useState(application?.autoAcknowledge?.text ?? "");
  const [sent, setSent] = useState<string[]>([]);
  const { save, form, errors } = useSaveForm();

  const inbound = mailboxes.filter((m) => m.clientType === "inbound");
  const ownerOf = (mailboxId: string) => applications.find((a) => a.id !== application?.id && a.mailboxIds.includes(mailboxId));
  const mailboxProblem = (mailboxId: string) => {
    const index = sent.indexOf(mailboxId);
    return index === -1 ? undefined : errors[`mailboxIds.${index}`];
  };
  const toggle = (id: string, on: boolean) => setMailboxIds((ids) => (on ? [...ids, id] : ids.filter((x) => x !== id)));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSent(mailboxIds);
    const ackUnused = !ackOn && !ackSubject.trim() && !ackText.trim();
    save.run(() =>
      onSave({ name, enabled, queueId, mailboxIds, autoAcknowledge: ackUnused ? null : { enabled: ackOn, subject: ackSubject, text: ackText } }),
    );
  };

  const queueChoices = [{ value: "", label: "Choose a queue", disabled: true }, ...queues.map((q) => ({ value: q.id, label: q.name }))];
  const chosenNames = inbound.filter((m) => mailboxIds.includes(m.id)).map((m) => m.name);
  // a problem with a mailbox that is not on the checklist (removed meanwhile) has nowhere to show but the notice
  const shownFields = ["name", "enabled", "queueId", "autoAcknowledge", ...sent.flatMap((id, i) => (inbound.some((m) => m.id === id) ? [`mailboxIds.${i}`] : []))];
  const andOutbound = mailboxes.some((m) => m.clientType === "outbound") ? " and the outbound mailbox: they start collecting and sending" : ": they start collecting";
  return (
    <Dialog title={application ? `Edit ${application.name}` : "New application"} onClose={onClose} wide>
      <form ref={form} className="form" onSubmit={submit} noValidate>
        <div className="form-grid">
          <TextField label="Name" value={name} onChange={setName} error={errors["name"]} autoComplete="off" required />
          {queues.length === 0 ? (
            <div className="field">
              <span className="field-label">Queue</span>
              <p className="muted">
                No queue yet. Create one on the <Link to="/routing">Routing</Link> page first.
              </p>
            </div>
          ) : (
            <SelectField
              label="Queue"
              value={queueId}
              onChange={setQueueId}
              choices={queueChoices}
              error={errors["queueId"]}
              hint="Where its email goes when no route matches."
              required
            />
          )}
        </div>

        <fieldset aria-describedby="mailboxes-hint">
          <legend>Inbound mailboxes</legend>
          <div className="field-hint" id="mailboxes-hint">
            The mailboxes whose email this application collects. A mailbox feeds one application.
          </div>
          {inbound.length === 0 ? (
            <p className="muted">
              No inbound mailbox yet. Add one on the <Link to="/mailboxes">Mailboxes</Link> page; it stays disabled until an enabled application lists it.
            </p>
          ) : (
            <ul className="checklist">
              {inbound.map((mailbox) => {
                const owner = ownerOf(mailbox.id);
                const problem = mailboxProblem(mailbox.id);
                const id = `mailbox-${mailbox.id}`;
                return (
                  <li key={mailbox.id}>
                    <input
                      id={id}
                      type="checkbox"
                      checked={mailboxIds.includes(mailbox.id)}
                      disabled={owner !== undefined && !mailboxIds.includes(mailbox.id)}
                      onChange={(e) => toggle(mailbox.id, e.target.checked)}
                      aria-invalid={problem ? true : undefined}
                      aria-describedby={`${id}-hint${problem ? ` ${id}-error` : ""}`}
                    />
                    <label htmlFor={id}>{mailbox.name}</label>
                    <span className="field-hint" id={`${id}-hint`}>
                      {mailbox.type} · {mailbox.mailbox} on {mailbox.host} · <MailboxState mailbox={mailbox} />
                      {owner ? ` · listed by ${owner.name}` : ""}
                    </span>
                    {problem ? (
                      <span className="field-error" id={`${id}-error`}>
                        {problem}
                      </span>
                    ) : null}
                  </li>
                );
              })}
            </ul>
          )}
        </fieldset>

        <CheckboxField label="Enabled" checked={enabled} onChange={setEnabled} error={errors["enabled"]} />
        <Notice kind={enabled ? "warning" : "info"}>
          {enabled
            ? `Saving an enabled application enables its mailboxes${chosenNames.length ? ` (${chosenNames.join(", ")})` : ""}${andOutbound} mail. A mailbox you uncheck is disabled.`
            : "While the application is disabled, its mailboxes stay disabled and collect no mail; saving disables them if they were enabled by it."}
        </Notice>

        <fieldset>
          <legend>Automatic acknowledgement</legend>
          <CheckboxField
            label="Acknowledge each new email automatically"
            checked={ackOn}
            onChange={setAckOn}
            error={errors["autoAcknowledge.enabled"]}
            hint="Sent from the outbound mailbox's From address to the sender. Never to automatic mail (auto-replies, bounces, mailing lists) or no-reply addresses, and at most 3 to one sender in 10 minutes."
          />
          <TextField label="Subject" value={ackSubject} onChange={setAckSubject} error={errors["autoAcknowledge.subject"]} autoComplete="off" />
          <TextAreaField label="Text" value={ackText} onChange={setAckText} error={errors["autoAcknowledge.text"]} rows={4} />
        </fieldset>

        <FormErrorNotice error={save.error} fields={shownFields} />
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={save.busy}>
            {save.busy ? "Saving…" : application ? "Save" : "Create application"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
