import type { ReactNode } from "react";
import { Dialog } from "./dialog";
import { useSave } from "./form-kit";
import { ErrorNotice } from "./notices";

/**
 * Asks before a change that cannot be taken back or that stops work (delete, disable). Focus starts
 * on Cancel; a refusal of the API is shown here, in its words, and the dialog stays open.
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
}: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** does the change; the dialog closes when the caller closes it */
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const save = useSave();
  return (
    <Dialog title={title} onClose={onClose}>
      <div className="form">
        <div>{children}</div>
        <ErrorNotice error={save.error} />
        <div className="actions">
          <button type="button" onClick={onClose} data-autofocus>
            Cancel
          </button>
          <button type="button" className="danger" onClick={() => save.run(onConfirm)} disabled={save.busy}>
            {save.busy ? "Working…" : confirmLabel}
          </button>
        </div>
      </div>
    </Dialog>
  );
}
