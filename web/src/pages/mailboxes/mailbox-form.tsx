import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, patch, post } from "../../api/client";
import type { Mailbox, MailboxType, Security } from "../../api/types";
import { Dialog } from "../../ui/dialog";
import { SelectField, TextField } from "../../ui/fields";
import { ErrorNotice, fieldErrors } from "../../ui/notices";
import { FromAddressField } from "./from-address-field";
import { FromAddressesDialog } from "./from-addresses-dialog";
import {
  blankDraft,
  createBody,
  draftOf,
  isWebType,
  outboundName,
  patchBody,
  shownPaths,
  typeLabels,
  typesFor,
  usesPassword,
  withSecurity,
  withType,
} from "./mailbox-draft";
import type { FormTarget, MailboxDraft } from "./mailboxes.types";
import { OAuthSection } from "./oauth-section";
import { ReadingSection } from "./reading-section";
import { TestConnection } from "./test-connection";

const hostHints: Partial<Record<MailboxType, string>> = {
  GRAPH: "graph.microsoft.com for Exchange Online",
  EWS: "The server of the EWS endpoint (/EWS/Exchange.asmx): outlook.office365.com for Exchange Online",
};

function securityChoices(type: MailboxType, current: Security) {
  const choices = isWebType(type)
    ? [
        { value: "tls", label: "HTTPS (TLS)" },
        { value: "none", label: "HTTP, no encryption (test servers only)" },
      ]
    : [
        { value: "tls", label: "TLS (SSL)" },
        { value: "starttls", label: "STARTTLS" },
        { value: "none", label: "None, clear text (test servers only)" },
      ];
  // a saved mailbox keeps showing what it has, even where another choice would make more sense
  if (!choices.some((c) => c.value === current)) choices.push({ value: current, label: current.toUpperCase() });
  return choices;
}

/**
 * The API's message for each field. A taken name comes with a detail that reads "is taken"; the
 * error's own message says it whole, so that one is shown at the field.
 */
function formErrors(error: unknown): Record<string, string> {
  const errors = fieldErrors(error);
  if (error instanceof ApiError && error.code === "name_taken") errors.name = error.message;
  return errors;
}

/** The API's problems that no field of the form shows now: they go to the notice at the top. */
function unshownProblems(error: unknown, shown: Set<string>): unknown {
  if (!(error instanceof ApiError)) return error;
  const rest = error.details.filter((d) => !shown.has(d.path));
  if (error.details.length === 0) return error;
  if (rest.length === 0) return null;
  return new ApiError(error.status, error.code, "Mailroom did not save the mailbox:", rest);
}

function ServerInfo({
  draft: d,
  saved,
  clientType,
  errors,
  onChange,
}: {
  draft: MailboxDraft;
  saved: Mailbox | undefined;
  clientType: Mailbox["clientType"];
  errors: Record<string, string>;
  onChange: (next: MailboxDraft) => void;
}) {
  const passwordHint = saved?.passwordSet
    ? "A password is set. Leave this empty to keep it; type it again when you change the host, port, mailbox, type or security."
    : saved
      ? "No password is stored: type it."
      : "The password of this account on the mail server.";
  return (
    <fieldset>
      <legend>Server Info</legend>
      <div className="form-grid">
        <TextField
          label="Mailbox"
          value={d.mailbox}
          onChange={(mailbox) => onChange({ ...d, mailbox })}
          error={errors.mailbox}
          required
          autoComplete="off"
          hint="The login name on the mail server, often the email address"
        />
        {usesPassword(d) ? (
          <TextField
            label="Password"
            type="password"
            value={d.password}
            onChange={(password) => onChange({ ...d, password })}
            error={errors.password}
            required={!saved?.passwordSet}
            autoComplete="new-password"
            hint={passwordHint}
          />
        ) : null}
      </div>
      <div className="form-grid mbx-host-port-type">
        <SelectField
          label="Type"
          value={d.type}
          onChange={(v) => onChange(withType(d, v as MailboxType))}
          choices={typesFor[clientType].map((t) => ({ value: t, label: typeLabels[t] }))}
          error={errors.type}
          required
        />
        <SelectField
          label="Security"
          value={d.security}
          onChange={(v) => onChange(withSecurity(d, v as Security))}
          choices={securityChoices(d.type, d.security)}
          error={errors.security}
        />
        <TextField
          label="Host"
          value={d.host}
          onChange={(host) => onChange({ ...d, host })}
          error={errors.host}
          required
          autoComplete="off"
          hint={hostHints[d.type] ?? "Server name or IP address, without scheme or port"}
        />
        <TextField label="Port" type="number" value={d.port} onChange={(port) => onChange({ ...d, port })} error={errors.port} required />
      </div>
    </fieldset>
  );
}

/**
 * The mailbox dialog, for adding an inbound or the outbound mailbox and for editing one. The API
 * judges every value: its messages appear beside their fields, and focus goes to the first of them.
 */
export function MailboxForm({ target, onSaved, onClose }: { target: FormTarget; onSaved: (mailbox: Mailbox) => void; onClose: () => void }) {
  const saved = target.kind === "edit" ? target.mailbox : undefined;
  const clientType = target.kind === "edit" ? target.mailbox.clientType : target.clientType;
  const [draft, setDraft] = useState<MailboxDraft>(() => (saved ? draftOf(saved) : blankDraft(clientType)));
  const [state, setState] = useState<{ busy: boolean; error?: unknown; attempt: number }>({ busy: false, attempt: 0 });
  const [manage, setManage] = useState({ open: false, version: 0 });
  const form = useRef<HTMLFormElement>(null);
  const notice = useRef<HTMLDivElement>(null);

  const set = (p: Partial<MailboxDraft>) => setDraft((d) => ({ ...d, ...p }));
  const errors = formErrors(state.error);
  const shown = shownPaths(clientType, draft);
  const shownErrors = Object.fromEntries(Object.entries(errors).filter(([path]) => shown.has(path)));
  const topError = unshownProblems(state.error, shown);

  useEffect(() => {
    if (state.attempt === 0) return;
    const first = form.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
    (first ?? notice.current)?.focus();
  }, [state.attempt]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (state.busy) return;
    const body = saved ? patchBody(saved, draft) : createBody(clientType, draft);
    // nothing changed: nothing to save, and nothing for the audit log
    if (saved && Object.keys(body).length === 0) {
      onSaved(saved);
      return;
    }
    setState((s) => ({ ...s, busy: true }));
    const request = saved ? patch<Mailbox>(`/api/v1/mailboxes/${encodeURIComponent(saved.id)}`, body) : post<Mailbox>("/api/v1/mailboxes", body);
    request.then(onSaved, (error: unknown) => setState((s) => ({ busy: false, error, attempt: s.attempt + 1 })));
  };

  // the dialog is modal on <dialog>: closing it returns focus to the select or button that opened it
  const openManage = () => {
    setManage((m) => ({ ...m, open: true }));
  };
  const closeManage = (folderId?: string | null) => {
    if (folderId !== undefined) set({ fromAddressFolderId: folderId });
    setManage((m) => ({ open: false, version: m.version + 1 }));
  };

  const kind = clientType === "inbound" ? "Inbound" : "Outbound";
  const title = saved ? `Edit ${kind} Mailbox` : `Add ${kind} Mailbox`;
  return (
    <Dialog title={title} onClose={onClose} wide>
      <form ref={form} className="form mbx-form" onSubmit={submit} noValidate aria-label={title}>
        <div ref={notice} tabIndex={-1} className="mbx-form-notice">
          {topError ? <ErrorNotice error={topError} /> : null}
        </div>
        {clientType === "inbound" ? (
          <div className="form-grid">
            <TextField
              label="Mailbox Name"
              value={draft.name}
              onChange={(name) => set({ name })}
              readOnly={saved !== undefined}
              error={shownErrors.name}
              required
              autoComplete="off"
              hint={saved ? "Set when the mailbox was created; it cannot change." : "Letters, digits, @ _ . and at most 40 characters; it cannot change later."}
            />
            <TextField
              label="Max size (MB)"
              type="number"
              value={draft.maxSizeMb}
              onChange={(maxSizeMb) => set({ maxSizeMb })}
              error={shownErrors.maxSizeMb}
              required
              hint="The largest incoming message, 5 to 20 MB (default 5)"
            />
          </div>
        ) : (
          <div className="form-grid">
            <TextField label="Mailbox Name" value={outboundName} readOnly hint="The outbound mailbox is always named smtp-client." />
            <FromAddressField
              value={draft.fromAddress}
              folderId={draft.fromAddressFolderId}
              version={manage.version}
              error={shownErrors.fromAddress}
              folderError={shownErrors.fromAddressFolderId}
              onChange={(fromAddress) => set({ fromAddress })}
              onManage={openManage}
            />
          </div>
        )}
        <ServerInfo draft={draft} saved={saved} clientType={clientType} errors={shownErrors} onChange={setDraft} />
        {clientType === "inbound" ? <ReadingSection type={draft.type} reading={draft.reading} errors={shownErrors} onChange={(reading) => set({ reading })} /> : null}
        <OAuthSection draft={draft} saved={saved} errors={shownErrors} onChange={set} />
        {saved ? (
          <fieldset>
            <legend>Connection test</legend>
            <TestConnection mailboxId={saved.id} note="Tests the saved settings: save your changes first to test them." />
          </fieldset>
        ) : null}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={state.busy} aria-busy={state.busy}>
            {state.busy ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
      {manage.open ? (
        <FromAddressesDialog folderId={draft.fromAddressFolderId} onUse={(folderId) => closeManage(folderId)} onClose={() => closeManage()} />
      ) : null}
    </Dialog>
  );
}
