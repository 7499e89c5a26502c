import { useState } from "react";
import { get, put } from "../../api/client";
import { ErrorNotice } from "../../ui/notices";
import { useResource } from "../../use-resource";

interface Availability {
  available: boolean;
  capacity: number;
}

/**
 * Whether Mailroom hands this agent waiting work by itself (up to their capacity), or the agent takes
 * it with Accept next.
 */
export function AvailabilitySwitch() {
  const known = useResource("my-availability", () => get<Availability>("/api/v1/me/availability")).data ?? null;
  const [chosen, setChosen] = useState<Availability | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const shown = chosen ?? known;

  const set = (available: boolean) => {
    setBusy(true);
    setError(null);
    put<Availability>("/api/v1/me/availability", { available }).then(
      (res) => {
        setBusy(false);
        setChosen(res);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  return (
    <div className="ws-availability">
      <div role="group" aria-labelledby="ws-availability-label" className="ws-segmented">
        <span id="ws-availability-label" className="ws-availability-label">
          Offered work
        </span>
        <button type="button" aria-pressed={shown?.available === true} disabled={busy} onClick={() => set(true)}>
          Available
        </button>
        <button type="button" aria-pressed={shown?.available === false} disabled={busy} onClick={() => set(false)}>
          Away
        </button>
      </div>
      <span className="muted small ws-availability-hint">
        {shown === null
          ? "Choose Available to have Mailroom hand you waiting emails."
          : shown.available
            ? `Mailroom hands you waiting emails, up to ${shown.capacity} at a time.`
            : "Take work with Accept next."}
      </span>
      {error ? <ErrorNotice error={error} /> : null}
    </div>
  );
}
