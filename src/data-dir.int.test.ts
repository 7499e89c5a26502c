import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { startMailroomProcess, type MailroomProcess } from "../test/support/mailroom-process.js";

let server: MailroomProcess | undefined;
let base: string | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

it("mailroom start makes an open data dir private, and what it creates in it too", { timeout: 120_000 }, async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-data-dir-e2e-"));
  const dataDir = path.join(base, "data");
  fs.mkdirSync(dataDir);
  fs.chmodSync(dataDir, 0o755);
  const notes = path.join(dataDir, "notes.txt");
  fs.writeFileSync(notes, "left here by an operator");
  fs.chmodSync(notes, 0o644);

  server = await startMailroomProcess({ dataDir });

  const modeOf = (name: string) => fs.statSync(path.join(dataDir, name)).mode & 0o777;
  expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
  expect(modeOf("notes.txt")).toBe(0o600);
  // created by this start: the database (and its WAL files while it is open) and the key
  for (const name of ["mailroom.db", "mailroom.db-wal", "mailroom.db-shm", "secret.key"]) expect(modeOf(name), name).toBe(0o600);
  expect(server.output()).toMatch(/The data directory was open to others/);
});
