import { useEffect, useRef, useState, type RefObject } from "react";
import { ApiError } from "../api/client";
import { ErrorNotice, fieldErrors } from "./notices";

// What the forms of every page share: the API's refusals shown at their fields, and focus on the first.

/**
 * After a refused save, moves focus to the first field marked invalid, so a keyboard or screen
 * reader user lands on the problem. `attempt` changes with every refused save.
 */
export function useFocusFirstInvalid(form: RefObject<HTMLElement | null>, attempt: number): void {
  useEffect(() => {
    if (attempt === 0) return;
    const first = form.current?.querySelector<HTMLElement>('[aria-invalid="true"], .field-invalid input, .field-invalid select, .field-invalid textarea');
    first?.focus();
  }, [form, attempt]);
}

/** Whether an API field path (`mailboxIds.2`, `autoAcknowledge.subject`) belongs to one of the form's fields. */
function shownAt(path: string, fields: readonly string[]): boolean {
  return fields.some((f) => path === f || path.startsWith(f + "."));
}

/**
 * The part of a refused save that the form cannot show beside a field: a conflict (409, whose
 * message says more than its field's "is taken"), a missing record, or a field the form does not
 * have. Invalid input shown at its fields is not repeated here.
 */
export function FormErrorNotice({ error, fields }: { error: unknown; fields: readonly string[] }) {
  if (!error) return null;
  if (error instanceof ApiError && error.details.length > 0 && error.details.every((d) => shownAt(d.path, fields))) {
    return error.code === "invalid_input" ? null : <ErrorNotice error={error} showDetails={false} />;
  }
  return <ErrorNotice error={error} />;
}

/** A save in progress, and what the API said when it refused it. */
export function useSave() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const run = (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    work().then(
      () => setBusy(false),
      (err: unknown) => {
        setBusy(false);
        setError(err);
        setAttempt((n) => n + 1);
      },
    );
  };
  /** a problem found in the browser, before asking the API */
  const refuse = (problem: unknown) => {
    setError(problem);
    setAttempt((n) => n + 1);
  };
  return { busy, error, attempt, run, refuse };
}

/**
 * A problem only the browser can see (the second copy of a new password never reaches the API), in
 * the API's shape, so that the form shows it at its field like any other.
 */
export function browserProblem(path: string, message: string): ApiError {
  return new ApiError(400, "invalid_input", message, [{ path, message }]);
}

/**
 * A form that saves through the API: the save's state, the form element (focus goes to its first
 * field the API refused) and the API's message for each field by path.
 */
export function useSaveForm() {
  const save = useSave();
  const form = useRef<HTMLFormElement>(null);
  useFocusFirstInvalid(form, save.attempt);
  return { save, form, errors: fieldErrors(save.error) };
}

/** Cancel, and the form's submit button, which says what it is doing while the save runs. */
export function FormActions({ onCancel, busy, label, busyLabel }: { onCancel: () => void; busy: boolean; label: string; busyLabel: string }) {
  return (
    <div className="actions">
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? busyLabel : label}
      </button>
    </div>
  );
}
