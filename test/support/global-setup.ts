import type { TestProject } from "vitest/node";
import { startPostgres, type PostgresServer } from "./postgres.js";
import { ensureDovecot } from "./dovecot-install.js";
import { ensureChromium } from "./chromium.js";
import { buildWebApp } from "./web-build.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
    /** set by this setup: the run promises both dialects, so a missing `pgUrl` is an error, not a reason to skip */
    requirePostgres: boolean;
    /** the web app, built from web/ for this run */
    webDir: string;
  }
}

let pg: PostgresServer | null = null;
let web: { dir: string; remove: () => void } | null = null;

function stopPostgres(): void {
  pg?.stop();
  pg = null;
}

const exitSignals = ["SIGINT", "SIGTERM"] as const;

export async function setup(project: TestProject): Promise<void> {
  ensureDovecot();
  // the browser tests need both; a missing Chromium fails the run here, before any test
  ensureChromium();
  web = await buildWebApp();
  project.provide("webDir", web.dir);
  // throws when PostgreSQL cannot be installed or started, which fails the run before any test
  pg = await startPostgres();
  // vitest exits on SIGINT/SIGTERM without calling teardown; stopping here keeps the cluster from
  // outliving the run, and a listener that stays keeps a second signal (Ctrl-C reaches vitest both
  // from the terminal and through `npm test`) from killing the process halfway through the stop
  for (const signal of exitSignals) process.on(signal, stopPostgres);
  process.once("exit", stopPostgres);
  project.provide("pgUrl", pg.url);
  project.provide("requirePostgres", true);
}

export function teardown(): void {
  for (const signal of exitSignals) process.off(signal, stopPostgres);
  process.off("exit", stopPostgres);
  stopPostgres();
  web?.remove();
  web = null;
}
