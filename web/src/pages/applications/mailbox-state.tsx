import type { Mailbox } from "../../api/types";

/** A mailbox's state in a few words: whether it is enabled, and what its connection is doing. */
function stateOf(mailbox: Mailbox): { label: string; badge: string; detail?: string } {
  if (!mailbox.enabled) return { label: "Disabled", badge: "badge" };
  const { state, message } = mailbox.status;
  if (state === "error") return { label: "Enabled", badge: "badge-ok", detail: message ? `error: ${message}` : "error" };
  if (state === "connecting") return { label: "Enabled", badge: "badge-ok", detail: "connecting…" };
  if (state === "ok") return { label: "Enabled", badge: "badge-ok", detail: "collecting mail" };
  return { label: "Enabled", badge: "badge-ok" };
}

export function MailboxState({ mailbox }: { mailbox: Mailbox }) {
  const state = stateOf(mailbox);
  return (
    <>
      <span className={`badge ${state.badge}`}>{state.label}</span>
      {state.detail ? <span className={mailbox.status.state === "error" ? "mailbox-error" : "muted"}> {state.detail}</span> : null}
    </>
  );
}
