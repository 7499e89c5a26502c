import { Dialog } from "../../ui/dialog";
import { Composer } from "./composer";
import { OutboundStatus } from "./outbound-status";
import type { FromAddress, SentEmail } from "./workspace-types";

/** A new email to anyone, not about an interaction. */
export function NewEmailDialog({ fromAddresses, onSent, onClose }: { fromAddresses: FromAddress[] | undefined; onSent: (sent: SentEmail) => void; onClose: () => void }) {
  return (
    <Dialog title="New email" onClose={onClose} wide>
      <Composer kind="new" detail={null} fromAddresses={fromAddresses} onSent={onSent} onCancel={onClose} />
    </Dialog>
  );
}

/** The new emails sent from this page, and how their sending goes. */
export function NewEmailsSent({ sent }: { sent: SentEmail[] }) {
  if (sent.length === 0) return null;
  return (
    <section className="panel ws-new-sent" aria-labelledby="ws-new-sent-title">
      <h2 id="ws-new-sent-title">New emails you sent</h2>
      <ul className="ws-outbounds" aria-live="polite">
        {sent.map((s) => (
          <OutboundStatus key={s.outboundId} outboundId={s.outboundId} kind={s.kind} to={s.to} />
        ))}
      </ul>
    </section>
  );
}
