import { useEffect, useId, useLayoutEffect, useRef, type ReactNode } from "react";

/**
 * A modal dialog on the browser's own <dialog>: the page behind cannot be reached while it is open and
 * Escape closes it. Focus goes to the element marked `data-autofocus`, else the first field, when it
 * opens, and back to what opened it when it closes (Chromium does not do that for a dialog that leaves
 * the page), or to the page when that is gone (a deleted row).
 */
export function Dialog({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ReactNode; wide?: boolean | undefined }) {
  const ref = useRef<HTMLDialogElement>(null);
  const body = useRef<HTMLDivElement>(null);
  const opener = useRef<Element | null>(null);
  const titleId = useId();
  // a layout effect runs before the effect below moves focus into the dialog
  useLayoutEffect(() => {
    opener.current = document.activeElement;
  }, []);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    const target =
      body.current?.querySelector<HTMLElement>("[data-autofocus]") ??
      body.current?.querySelector<HTMLElement>("input:not([type=hidden]):not(:disabled):not([readonly]), select, textarea");
    target?.focus();
    return () => {
      dialog?.close();
      const back = opener.current;
      if (back instanceof HTMLElement && back.isConnected) back.focus();
      else document.getElementById("main")?.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={wide ? "dialog dialog-wide" : "dialog"}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <header className="dialog-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      <div className="dialog-body" ref={body}>
        {children}
      </div>
    </dialog>
  );
}
