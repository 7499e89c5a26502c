import { describe, expect, it } from "vitest";
import { secretExpiry } from "./mailboxes.view.js";

describe("client secret expiry", () => {
  const now = new Date("2026-11-30T12:00:00Z");

  it("warns from 30 days before the expiry date and says expired after it", () => {
    expect(secretExpiry("2027-06-30", now)).toEqual({ state: "ok", daysLeft: 212 });
    expect(secretExpiry("2026-12-30", now)).toMatchObject({ state: "ok" });
    expect(secretExpiry("2026-12-29", now)).toEqual({ state: "expiring", daysLeft: 29 });
    // a date alone is the end of that day, as Entra's portal shows it
    expect(secretExpiry("2026-11-30", now)).toEqual({ state: "expiring", daysLeft: 0 });
    expect(secretExpiry("2026-11-29", now)).toEqual({ state: "expired", daysLeft: 0 });
    expect(secretExpiry("2026-11-30T11:59:59Z", now)).toEqual({ state: "expired", daysLeft: 0 });
  });
});
