import type { TestProject } from "vitest/node";
import { startPostgres, type PostgresServer } from "./postgres.js";
import { ensureDovecot } from "./dovecot-install.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string | null;
  }
}

let pg: PostgresServer | null = null;

export async function setup(project: TestProject): Promise<void> {
  ensureDovecot();
  pg = await startPostgres();
  project.provide("pgUrl", pg?.url ?? null);
}

export function teardown(): void {
  pg?.stop();
}
