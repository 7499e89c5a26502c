import { get } from "../../api/client";
import type { List, Queue } from "../../api/types";
import { useResource } from "../../use-resource";
import { QueuesSection } from "./queues-section";
import { RoutesSection } from "./routes-section";
import { RoutingSettingsSection } from "./routing-settings";
import "./routing.css";

export function RoutingPage() {
  const queues = useResource("queues", () => get<List<Queue>>("/api/v1/queues"));
  return (
    <section aria-labelledby="routing-title">
      <h1 id="routing-title">Routing</h1>
      <p className="muted page-intro">
        Where inbound email goes. Each interaction waits in a queue until one of the queue&apos;s agents accepts it. Routes send email to a queue by the
        address it was sent to; email that matches no route goes to the queue of the application whose mailbox received it.
      </p>
      <div className="split routing-layout">
        <div className="routing-column">
          <RoutesSection queues={queues} />
          <RoutingSettingsSection />
        </div>
        <div className="routing-column">
          <QueuesSection queues={queues} />
        </div>
      </div>
    </section>
  );
}
