import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { AppError } from "../../errors.js";
import { anyRole, type Principal } from "../../http/route-config.js";
import type { EventBus, StampedEvent } from "../../shared/event-bus.js";
import { endsSession, type SessionEnds } from "../../shared/session-ends.js";
import { eventView } from "./event-view.js";

/** What a stream asks about its session: whether it still lives (not signed out, expired, or its user disabled). */
export interface StreamSessionCheck {
  principalForSession(sessionHash: string): Promise<Principal | null>;
}

export interface EventStreamOptions {
  heartbeatMs?: number | undefined;
  /**
   * How often a stream checks that its session still lives; 15 s by default. Sessions ended on this node
   * end their streams at once; this catches expiry, and sessions ended on another node.
   */
  sessionCheckMs?: number | undefined;
}

/**
 * Server-Sent Events for the web UI: `id:`, `event: <type>` and a JSON `data:` line per event; the ids
 * are the same on every node, so a client that reconnects with `Last-Event-ID` gets the events it
 * missed, or a `resync` event when they are no longer known (it then reads afresh). A stream lasts
 * as long as its session: it ends at once when the session is ended on this node, and otherwise within
 * `sessionCheckMs`. What a user is sent of each event depends on their role (see eventView); a role
 * changed meanwhile counts from the stream's next session check.
 */
export function eventsRoutes(bus: EventBus, sessions: StreamSessionCheck, sessionEnds: SessionEnds, opts: EventStreamOptions = {}): FastifyPluginAsyncZod {
  const heartbeatMs = opts.heartbeatMs ?? 25_000;
  const sessionCheckMs = opts.sessionCheckMs ?? 15_000;
  return async (app) => {
    // a stream lasts until its client goes: a node that stops ends them, or it would wait for every browser
    const openStreams = new Set<() => void>();
    app.addHook("preClose", async () => {
      for (const end of [...openStreams]) end();
    });
    app.get(
      "/api/v1/events",
      { config: { access: anyRole }, schema: { tags: ["events"], summary: "Server-Sent Events: interaction.created, mailbox.status" } },
      (req, reply) => {
        const principal = req.principal;
        if (!principal) throw new AppError("unauthenticated", "Sign in first.");
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-store",
          connection: "keep-alive",
          "x-accel-buffering": "no",
        });
        res.write(": connected\n\n");
        let role = principal.role;
        const send = ({ id, event }: StampedEvent) => {
          const view = eventView(event, role);
          if (!view) return;
          // a resync is no point to catch up from: the client keeps the id of the last real event
          if (event.type === "resync") res.write(`event: resync\ndata: {"type":"resync"}\n\n`);
          else res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(view)}\n\n`);
        };
        // a client that reconnects (to this node or another) gets what it missed, or is told to read afresh
        const lastId = req.headers["last-event-id"];
        if (typeof lastId === "string" && lastId) {
          const missed = bus.since(lastId);
          if (missed) missed.forEach(send);
          else res.write(`event: resync\ndata: {"type":"resync"}\n\n`);
        }
        const unsubscribe = bus.subscribe(send);
        // proxies drop idle connections; a comment line keeps this one open
        const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), heartbeatMs);
        heartbeat.unref();
        let open = true;
        let sessionCheck: NodeJS.Timeout | undefined;
        const stop = () => {
          if (!open) return;
          open = false;
          clearInterval(heartbeat);
          clearTimeout(sessionCheck);
          unsubscribe();
          stopHearingEnds();
          openStreams.delete(endStream);
        };
        const endStream = () => {
          stop();
          res.end();
        };
        openStreams.add(endStream);
        const stopHearingEnds = sessionEnds.subscribe((end) => {
          if (endsSession(end, principal.userId, principal.sessionHash)) endStream();
        });
        const checkSession = () => {
          sessions.principalForSession(principal.sessionHash).then(
            (live) => {
              if (!open) return;
              if (!live) {
                endStream();
                return;
              }
              role = live.role;
              sessionCheck = setTimeout(checkSession, sessionCheckMs);
              sessionCheck.unref();
            },
            (err: unknown) => {
              if (!open) return;
              // not knowing whether the session lives, the stream ends; the client reconnects and is asked to sign in if need be
              req.log.warn({ err }, "could not check the session of an event stream; ending the stream");
              endStream();
            },
          );
        };
        sessionCheck = setTimeout(checkSession, sessionCheckMs);
        sessionCheck.unref();
        req.raw.on("close", stop);
        res.on("close", stop);
      },
    );
  };
}
