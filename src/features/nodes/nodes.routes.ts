import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOnly } from "../../http/route-config.js";
import type { NodesService } from "./nodes.service.js";

const nodeView = z.object({
  id: z.string(),
  name: z.string().describe("MAILROOM_NODE_NAME, host:port by default"),
  startedAt: z.string(),
  lastHeartbeatAt: z.string(),
  mailboxIds: z.array(z.string()).describe("the mailboxes this node runs: it holds their leases"),
});

export function nodesRoutes(nodes: NodesService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/v1/nodes",
      {
        config: { access: adminOnly },
        schema: {
          tags: ["nodes"],
          summary: "The live Mailroom nodes on this database and the mailboxes each one runs",
          response: { 200: z.object({ items: z.array(nodeView) }) },
        },
      },
      async () => ({ items: await nodes.list() }),
    );
  };
}
