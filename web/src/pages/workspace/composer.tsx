import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError, post } from "../../api/client";
import { SelectField, TextAreaField, TextField } from "../../ui/fields";
import { ErrorNotice, Loading, Notice, fieldErrors } from "../../ui/notices";
import { parseAddresses, quotedOriginal, replyRecipients, subjectFor } from "./workspace-data";
import type { ComposeKind, FromAddress, InteractionDetail, SentEmail } from "./workspace-types";

const titles: Record<ComposeKind, string> = { reply: "Reply", replyAll: "Reply all", forward: "Forward", new: "New email" };

const formFields = ["from", "to", "cc", "subject", "text"];
const pathOf = (path: string, field: string) => path === field || path.startsWith(`${field}[`) || path.startsWith(`${field}.`);

/** The first problem the API reported for a field or any of its items ("to" and "to[1]"). */
function problemOf(errors: Record<string, string>, field: string): string | undefined {
  const key = Object.keys(errors).find((k) => pathOf(k, field));
  return key === undefined ? undefined : errors[key];
}

/** Whether the error names a field the form does not show, so the notice has to list it. */
function hasOtherProblems(error: unknown): boolean {
  return error instanceof ApiError && error.details.some((d) => !formFields.some((f) => pathOf(d.path, f)));
}

/**
 * Writes a reply, reply all, forward or new email. The server adds the quoted original below the
 * agent's text when it sends; the form shows it so nobody quotes it twice.
 */
export function Composer({
  kind,
  detail,
  fromAddresses,
  onSent,
  onCancel,
}: {
  kind: ComposeKind;
  /** the interaction answered; null for a new email */
  detail: InteractionDetail | null;
  /** undefined while they load */
  fromAddresses: FromAddress[] | undefined;
  onSent: (sent: SentEmail) => void;
  onCancel: () => void;
}) {
  const titleId = useId();
  const [initial] = useState(() => {
    const recipients = detail ? replyRecipients(kind, detail, fromAddresses ?? []) : { to: [], cc: [] };
    return { to: recipients.to.join(", "), cc: recipients.cc.join(", ") };
  });
  const [chosenFrom, setFrom] = useState<string | null>(null);
  const from = chosenFrom ?? fromAddresses?.[0]?.address ?? "";
  const [to, setTo] = useState(initial.to);
  const [cc, setCc] = useState(initial.cc);
  const [subject, setSubject] = useState(() => subjectFor(kind, detail?.subject ?? ""));
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const form = useRef<HTMLFormElement>(null);
  const ready = fromAddresses !== undefined && fromAddresses.length > 0;
  const quote = detail ? quotedOriginal(kind, detail) : "";
  const errors = fieldErrors(error);
  const answering = kind === "reply" || kind === "replyAll";

  // the agent writes at once: into the text of a reply, into To when there is no one to write to yet
  useEffect(() => {
    const el = form.current;
    if (!el) return;
    const first = kind === "reply" || kind === "replyAll" ? el.querySelector("textarea") : el.querySelector<HTMLInputElement>("input[type=text]");
    first?.focus();
    el.scrollIntoView({ block: "nearest" });
  }, [kind, ready]);

  const send = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const toList = parseAddresses(to);
    const ccList = parseAddresses(cc);
    let request: Promise<{ outboundId: string }>;
    if (answering && detail) {
      // untouched recipients are left to the server, which also leaves out the company's own mailboxes
      const body: Record<string, unknown> = { from, subject, text, all: kind === "replyAll" };
      if (to !== initial.to) body.to = toList;
      if (cc !== initial.cc) body.cc = ccList;
      request = post(`/api/v1/interactions/${encodeURIComponent(detail.id)}/reply`, body);
    } else if (kind === "forward" && detail) {
      request = post(`/api/v1/interactions/${encodeURIComponent(detail.id)}/forward`, { from, to: toList, ...(ccList.length ? { cc: ccList } : {}), subject, text });
    } else {
      request = post("/api/v1/outbound", { from, to: toList, ...(ccList.length ? { cc: ccList } : {}), subject, text });
    }
    request.then(
      (res) => {
        setBusy(false);
        onSent({ outboundId: res.outboundId, kind, to: [...toList, ...ccList].join(", ") });
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  if (fromAddresses === undefined) {
    return (
      <section className="ws-composer" aria-labelledby={titleId}>
        <h3 id={titleId}>{titles[kind]}</h3>
        <Loading label="Loading your From addresses…" minHeight="6rem" />
      </section>
    );
  }
  if (fromAddresses.length === 0) {
    return (
      <section className="ws-composer" aria-labelledby={titleId}>
        <h3 id={titleId}>{titles[kind]}</h3>
        <Notice kind="warning">
          You have no From address to send from. Ask an administrator to add one to the outbound mailbox&apos;s From addresses, then sign out and in again.
        </Notice>
        <div className="actions">
          <button type="button" onClick={onCancel}>
            Close
          </button>
        </div>
      </section>
    );
  }

  return (
    <form ref={form} className="ws-composer form" aria-labelledby={titleId} onSubmit={send} noValidate>
      <h3 id={titleId}>{titles[kind]}</h3>
      <SelectField
        label="From"
        value={from}
        onChange={setFrom}
        choices={fromAddresses.map((a) => ({ value: a.address, label: a.displayName ? `${a.displayName} <${a.address}>` : a.address }))}
        error={problemOf(errors, "from")}
        required
      />
      <TextField
        label="To"
        value={to}
        onChange={setTo}
        error={problemOf(errors, "to")}
        hint={answering ? "Separate addresses with commas. Mailroom never copies the company's own mailboxes." : "Separate addresses with commas."}
        required={!answering}
        autoComplete="off"
      />
      <TextField label="Cc" value={cc} onChange={setCc} error={problemOf(errors, "cc")} autoComplete="off" />
      <TextField label="Subject" value={subject} onChange={setSubject} error={problemOf(errors, "subject")} required={kind === "new"} autoComplete="off" />
      <TextAreaField label="Message" value={text} onChange={setText} error={problemOf(errors, "text")} rows={8} required />
      {quote ? (
        <details className="ws-quote">
          <summary>{kind === "forward" ? "The forwarded message and its attachments are added below your text" : "The customer's message is quoted below your text"}</summary>
          <pre>{quote}</pre>
        </details>
      ) : null}
      <ErrorNotice error={error} showDetails={hasOtherProblems(error)} />
      <div className="actions">
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy || !from}>
          {busy ? "Sending…" : "Send"}
        </button>
      </div>
    </form>
  );
}
