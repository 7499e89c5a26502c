import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";

describe("configuration", () => {
  it("defaults to port 8025 and SQLite in ./data", () => {
    const c = loadConfig({});
    expect(c.port).toBe(8025);
    expect(c.database).toEqual({ dialect: "sqlite", file: path.resolve("data", "mailroom.db") });
  });

  it("uses PostgreSQL for a postgres:// URL", () => {
    const c = loadConfig({ MAILROOM_DATABASE_URL: "postgres://u@db.example:5432/mailroom" });
    expect(c.database).toEqual({ dialect: "postgres", url: "postgres://u@db.example:5432/mailroom" });
  });

  it("names every bad or unknown setting in one error", () => {
    let message = "";
    try {
      loadConfig({ MAILROOM_PORT: "eighty", MAILROOM_DATABASE_URL: "mysql://x", MAILROOM_PROT: "1", OTHER: "ignored" });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain("MAILROOM_PORT");
    expect(message).toContain("MAILROOM_DATABASE_URL: must start with postgres:// or sqlite:");
    expect(message).toContain("unknown setting MAILROOM_PROT");
    expect(message).not.toContain("OTHER");
  });
});
