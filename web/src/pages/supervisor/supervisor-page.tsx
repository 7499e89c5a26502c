import { useState } from "react";
import { get } from "../../api/client";
import type { List, MailboxHealth as MailboxHealthView, QueueStats } from "../../api/types";
import { useEventsConnected } from "../../events";
import { useResource } from "../../use-resource";
import { MailboxHealth } from "./mailbox-health";
import { QueueLoad } from "./queue-load";
import { rateWindowMinutes, recentMailReader } from "./supervisor-data";
import "./supervisor.css";

/** How the contact center's email is doing right now: queues, and whether every mailbox takes mail. */
export function SupervisorPage() {
  const live = useEventsConnected();
  const [readRecent] = useState(recentMailReader);
  const stats = useResource(
    "supervisor:queue-stats",
    () => get<List<QueueStats>>("/api/v1/queues/stats"),
    (e) => e.type === "interaction.created" || e.type === "interaction.updated",
  );
  const mailboxes = useResource(
    "supervisor:mailboxes",
    () => get<List<MailboxHealthView>>("/api/v1/mailboxes/health"),
    // a status change names the mailbox's state; its warnings and last sync come with the mailbox
    (e) => e.type === "mailbox.status" || e.type === "interaction.created",
  );
  const recent = useResource(
    "supervisor:recent-mail",
    () => readRecent(Date.now() - rateWindowMinutes * 60_000),
    (e) => e.type === "interaction.created",
  );
  return (
    <div className="sv">
      <div className="sv-top">
        <h1>Supervisor</h1>
        <p className="muted small">{live ? "Live: updates as mail arrives" : "Paused: reconnecting…"}</p>
      </div>
      {/* side by side where there is room: neither pushes the other when its data arrives */}
      <div className="sv-columns">
        <QueueLoad stats={stats} />
        <MailboxHealth mailboxes={mailboxes} recent={recent} ready={stats.data !== undefined || stats.error !== undefined} />
      </div>
    </div>
  );
}
