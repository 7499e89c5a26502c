import { useId, useState } from "react";
import { post } from "../../api/client";
import type { TestResult, TestStep } from "../../api/types";
import { ErrorNotice } from "../../ui/notices";

const stepLabels: Record<string, string> = {
  acquire_token: "Get an OAuth 2.0 token",
  connect: "Connect",
  authenticate: "Sign in",
  open_folder: "Open the folder",
};

function stepLabel(step: string): string {
  return stepLabels[step] ?? step.replaceAll("_", " ");
}

function summary(result: TestResult): string {
  if (result.ok) return "The connection works: Mailroom connected and signed in.";
  const failed = result.steps.find((s) => !s.ok);
  return failed ? `The connection failed at “${stepLabel(failed.step)}”.` : "The connection failed.";
}

function StepItem({ step }: { step: TestStep }) {
  return (
    <li className={step.ok ? "mbx-test-step mbx-test-step-ok" : "mbx-test-step mbx-test-step-failed"}>
      <span className="mbx-test-step-name">{stepLabel(step.step)}</span>
      <span className={step.ok ? "badge badge-ok" : "badge badge-error"}>{step.ok ? "OK" : "Failed"}</span>
      <span className="muted small">{step.ms} ms</span>
      {step.message ? <span className="mbx-test-step-message">{step.message}</span> : null}
    </li>
  );
}

/**
 * Runs the server's connection test of a saved mailbox (connect, sign in, open the folder; no mail
 * changes) and lists each step as the server reported it. Shown for one mailbox: its parent gives
 * it a key per mailbox, so a result never outlives the selection it was for.
 */
export function TestConnection({ mailboxId, note }: { mailboxId: string; note?: string }) {
  const [current, setCurrent] = useState<{ busy: boolean; result?: TestResult; error?: unknown }>({ busy: false });
  const resultId = useId();

  const run = () => {
    setCurrent({ busy: true });
    post<TestResult>(`/api/v1/mailboxes/${encodeURIComponent(mailboxId)}/test`).then(
      (result) => setCurrent({ busy: false, result }),
      (error: unknown) => setCurrent({ busy: false, error }),
    );
  };

  return (
    <div className="mbx-test-connection">
      <div className="mbx-test-connection-bar">
        <button type="button" onClick={run} disabled={current.busy} aria-busy={current.busy} aria-describedby={note ? `${resultId}-note` : undefined}>
          {current.busy ? "Testing connection…" : "Test connection"}
        </button>
        {note ? (
          <span id={`${resultId}-note`} className="muted small">
            {note}
          </span>
        ) : null}
      </div>
      <div id={resultId} className="mbx-test-result" role="status" aria-live="polite" aria-busy={current.busy}>
        {current.busy ? <p className="muted">Connecting to the mail server…</p> : null}
        {current.error ? <ErrorNotice error={current.error} title="The test could not run." /> : null}
        {current.result ? (
          <>
            <p className={current.result.ok ? "mbx-test-summary mbx-test-summary-ok" : "mbx-test-summary mbx-test-summary-failed"}>{summary(current.result)}</p>
            <ol className="mbx-test-steps" aria-label="Connection test steps">
              {current.result.steps.map((s, i) => (
                <StepItem key={`${s.step}-${i}`} step={s} />
              ))}
            </ol>
          </>
        ) : null}
      </div>
    </div>
  );
}
