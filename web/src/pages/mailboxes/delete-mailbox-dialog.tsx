import { useState } from "react";
import { del } from "../../api/client";
import type { Mailbox } from "../../api/types";
import { Dialog } from "../../ui/dialog";
import { ErrorNotice } from "../../ui/notices";

/**
 * Asks before deleting a mailbox. An enabled mailbox is refused by the API (mailbox_enabled); its
 * words are shown here, since they say what to do first.
 */
export function DeleteMailboxDialog({ mailbox, onDeleted, onClose }: { mailbox: Mailbox; onDeleted: () => void; onClose: () => void }) {
  const [state, setState] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const remove = () => {
    setState({ busy: true });
    del(`/api/v1/mailboxes/${encodeURIComponent(mailbox.id)}`).then(onDeleted, (error: unknown) => setState({ busy: false, error }));
  };
  return (
    <Dialog title={`Delete ${mailbox.name}?`} onClose={onClose}>
      <div className="form">
        {state.error ? (
          <ErrorNotice error={state.error} title="Mailroom did not delete the mailbox." />
        ) : mailbox.enabled ? (
          <p>
            <strong>{mailbox.name} is enabled, and enabled mailboxes cannot be deleted.</strong> Mailroom will refuse and say what to change first.
          </p>
        ) : (
          <p>
            {mailbox.name} ({mailbox.mailbox} on {mailbox.host}) will be removed. Mailroom stops reading or sending with it; this cannot be undone.
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={onClose}>
            {state.error ? "Close" : "Cancel"}
          </button>
          {state.error ? null : (
            <button type="button" className="danger" onClick={remove} disabled={state.busy} aria-busy={state.busy}>
              {state.busy ? "Deleting…" : "Delete mailbox"}
            </button>
          )}
        </div>
      </div>
    </Dialog>
  );
}
