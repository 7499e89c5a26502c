import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import { sql, type Kysely } from "kysely";
import type { Database } from "../db/schema.js";

type Callback = (err: Error | null, result?: { current: number; ttl: number }) => void;

/** What a child store learns of its route (@fastify/rate-limit passes the route as `routeInfo`) */
interface RouteOfStore {
  routeInfo?: { method?: unknown; url?: unknown };
}

/** Rows whose window ended this long ago are deleted now and then. */
const keepEndedMs = 60 * 60_000;

/**
 * A store for @fastify/rate-limit in the database, so that every node counts the same attempts: with
 * a store per node, N nodes behind a load balancer would allow N times the sign-in attempts. One
 * statement per attempt: the count of the key's window goes up, or a new window starts. Windows are
 * timed by the clock of the node that counts (a skew between nodes moves a window's end by as much).
 */
export function databaseRateLimitStore(db: Kysely<Database>, now: () => number = Date.now): FastifyRateLimitStoreCtor {
  let sinceCleanup = 0;
  return class DatabaseRateLimitStore implements FastifyRateLimitStore {
    readonly #prefix: string;

    constructor(route: object = {}) {
      // a route's own counts: one key on two rate-limited routes is counted apart
      const info = (route as RouteOfStore).routeInfo;
      this.#prefix = info && typeof info.url === "string" ? `${String(info.method)} ${info.url}|` : "";
    }

    // @fastify/rate-limit passes the window (ms) as a third argument, which its typings leave out
    incr(key: string, cb: Callback, ...rest: unknown[]): void {
      const timeWindow = typeof rest[0] === "number" ? rest[0] : 60_000;
      const at = now();
      db.insertInto("rate_limit_hits")
        .values({ key: this.#prefix + key, window_ends_ms: at + timeWindow, hits: 1 })
        .onConflict((oc) =>
          oc.column("key").doUpdateSet({
            hits: sql`case when rate_limit_hits.window_ends_ms <= ${at} then 1 else rate_limit_hits.hits + 1 end`,
            window_ends_ms: sql`case when rate_limit_hits.window_ends_ms <= ${at} then ${at + timeWindow} else rate_limit_hits.window_ends_ms end`,
          }),
        )
        .returning(["hits", "window_ends_ms"])
        .executeTakeFirstOrThrow()
        .then(
          (row) => {
            cb(null, { current: Number(row.hits), ttl: Math.max(0, Number(row.window_ends_ms) - at) });
            if (++sinceCleanup >= 1000) {
              sinceCleanup = 0;
              db.deleteFrom("rate_limit_hits")
                .where("window_ends_ms", "<", at - keepEndedMs)
                .execute()
                .catch(() => undefined);
            }
          },
          (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
        );
    }

    child(route: object): FastifyRateLimitStore {
      return new DatabaseRateLimitStore(route);
    }
  };
}
