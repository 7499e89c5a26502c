import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { anyRole } from "../../http/route-config.js";
import type { EventBus } from "../../shared/event-bus.js";

/** Server-Sent Events for the web UI: `event: <type>` and a JSON `data:` line per event. */
export function eventsRoutes(bus: EventBus, heartbeatMs = 25_000): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/v1/events",
      { config: { access: anyRole }, schema: { tags: ["events"], summary: "Server-Sent Events: interaction.created, mailbox.status" } },
      (req, reply) => {
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-store",
          connection: "keep-alive",
          "x-accel-buffering": "no",
        });
        res.write(": connected\n\n");
        const unsubscribe = bus.subscribe((e) => {
          res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
        });
        // proxies drop idle connections; a comment line keeps this one open
        const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), heartbeatMs);
        heartbeat.unref();
        req.raw.on("close", () => {
          clearInterval(heartbeat);
          unsubscribe();
        });
      },
    );
  };
}
