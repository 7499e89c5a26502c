import { describe, expect, it } from "vitest";
import { maskSecrets } from "./audit.service.js";

describe("audit masking", () => {
  it("masks every secret value at any depth and keeps everything else, including the secret's expiry date", () => {
    const masked = maskSecrets({
      name: "support",
      password: "p4ss",
      auth: { method: "oauth2", clientId: "c1", secretExpiresAt: "2027-01-01T00:00:00.000Z" },
      clientSecret: "s3cr3t",
      list: [{ accessToken: "tok" }],
      unset: null,
    });
    expect(masked).toEqual({
      name: "support",
      password: "[secret]",
      auth: { method: "oauth2", clientId: "c1", secretExpiresAt: "2027-01-01T00:00:00.000Z" },
      clientSecret: "[secret]",
      list: [{ accessToken: "[secret]" }],
      unset: null,
    });
  });
});
