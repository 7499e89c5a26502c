import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acmeSeed, startMicrosoft, type Microsoft } from "../../test/support/microsoft.js";
import { MailSourceError } from "../connectors/mail-source.js";
import type { OAuthAccount } from "./token-service.js";

/** The token service with the real MSAL against the Microsoft emulator: every grant, the cache, and each refusal in words. */
let ms: Microsoft;

beforeAll(async () => {
  const seed = acmeSeed();
  const tenant = seed.tenants[0]!;
  // an app granted nothing for IMAP, and one without admin consent
  tenant.clients.push({ clientId: "11111111-0000-4000-8000-00000000000a", clientSecret: "no-imap-secret", roles: ["Mail.ReadWrite"], scopes: ["User.Read"] });
  tenant.clients.push({ clientId: "11111111-0000-4000-8000-00000000000b", clientSecret: "no-consent-secret", roles: ["IMAP.AccessAsApp"], consented: false });
  tenant.users.push(
    { mail: "agent.one@acme.test", password: "Right-Password-1" },
    { mail: "needs.mfa@acme.test", password: "Right-Password-1", signIn: "mfa" },
    { mail: "locked@acme.test", password: "Right-Password-1", signIn: "locked" },
  );
  ms = await startMicrosoft({ seed });
});

afterAll(async () => {
  await ms?.stop();
});

const account = (overrides: Partial<OAuthAccount> = {}) => ms.account(overrides);

const tokenRequests = async () => ((await ms.get("/_emulator/stats")) as { token: number }).token;

async function refusal(promise: Promise<unknown>): Promise<MailSourceError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MailSourceError);
  return err as MailSourceError;
}

describe("the token service against Entra ID (the emulator), with the real MSAL", () => {
  it("gets an application token for IMAP with client credentials, keeps it cached, and fetches a new one when asked", async () => {
    const tokens = ms.tokens();
    const before = await tokenRequests();
    const first = await tokens.acquire(account());
    expect(first.claims).toMatchObject({ aud: "https://outlook.office365.com", tid: ms.tenantId, appid: ms.clientId });
    expect(first.claims.roles).toContain("IMAP.AccessAsApp");
    expect(first.expiresOn!.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(tokens.diagnose(first, account())).toMatchObject({ audience: { ok: true }, required: ["IMAP.AccessAsApp"], missing: [] });

    const again = await tokens.acquire(account());
    expect(again.accessToken).toBe(first.accessToken);
    expect(await tokenRequests()).toBe(before + 1);
    const fresh = await tokens.acquire(account(), { fresh: true });
    expect(fresh.accessToken).not.toBe(first.accessToken);
    expect(await tokenRequests()).toBe(before + 2);
  });

  it("signs a user in with the password grant for POP3 and renews silently afterwards", async () => {
    const tokens = ms.tokens();
    const ropc = account({ protocol: "POP3", grant: "password", clientSecret: null, username: "agent.one@acme.test", password: "Right-Password-1" });
    const token = await tokens.acquire(ropc);
    expect(token.claims.scp).toEqual(["POP.AccessAsUser.All"]);
    expect(token.claims.upn).toBe("agent.one@acme.test");
    expect(tokens.diagnose(token, ropc).missing).toEqual([]);
    // the account is cached: a forced renewal uses the refresh token, not the password (which is now wrong)
    const renewed = await tokens.acquire({ ...ropc }, { fresh: true });
    expect(renewed.accessToken).not.toBe(token.accessToken);
    expect(renewed.claims.upn).toBe("agent.one@acme.test");
  });

  it("a credential provider hands out the cached token and a new one after the server refused it", async () => {
    const provider = ms.tokens().credentials(account());
    const a = await provider.get();
    expect(await provider.get()).toEqual(a);
    provider.refused();
    const b = await provider.get();
    expect(b.method).toBe("xoauth2");
    expect(b).not.toEqual(a);
  });

  it("says which permissions a token lacks for the mailbox's protocol", async () => {
    const tokens = ms.tokens();
    const noImap = account({ clientId: "11111111-0000-4000-8000-00000000000a", clientSecret: "no-imap-secret" });
    const token = await tokens.acquire(noImap);
    expect(tokens.diagnose(token, noImap)).toMatchObject({ permissions: [], required: ["IMAP.AccessAsApp"], missing: ["IMAP.AccessAsApp"] });
    const graph = { ...noImap, protocol: "GRAPH" as const };
    const graphToken = await tokens.acquire(graph);
    expect(tokens.diagnose(graphToken, graph)).toMatchObject({ audience: { expected: "https://graph.microsoft.com", ok: true }, permissions: ["Mail.ReadWrite"], missing: [] });
    expect(tokens.diagnose(graphToken, { ...graph, direction: "outbound" }).missing).toEqual(["Mail.Send"]);
  });

  it("maps each refusal of Entra ID to the mailbox status code, with the AADSTS words", async () => {
    const cases: [Partial<OAuthAccount>, string, RegExp][] = [
      [{ clientSecret: "not-the-secret" }, "invalid_client", /AADSTS7000215/],
      [{ directoryId: "00000000-dead-4bee-8000-000000000000" }, "tenant_not_found", /AADSTS90002/],
      [{ clientId: "99999999-0000-4000-8000-000000000000", clientSecret: "x" }, "unauthorized_client", /AADSTS700016/],
      [{ clientId: "11111111-0000-4000-8000-00000000000b", clientSecret: "no-consent-secret" }, "consent_required", /AADSTS65001/],
      [{ grant: "password", clientSecret: null, username: "needs.mfa@acme.test", password: "Right-Password-1" }, "mfa_required", /AADSTS50076/],
      [{ grant: "password", clientSecret: null, username: "locked@acme.test", password: "Right-Password-1" }, "user_locked", /AADSTS50053/],
      [{ grant: "password", clientSecret: null, username: "agent.one@acme.test", password: "Wrong-Password" }, "invalid_credentials", /AADSTS50126/],
    ];
    for (const [overrides, code, aadsts] of cases) {
      // a new service each time: MSAL holds back a request that just failed
      const err = await refusal(ms.tokens().acquire(account(overrides)));
      expect(err.code, JSON.stringify(overrides)).toBe(code);
      expect(err.serverText).toMatch(aadsts);
      expect(err.message).not.toMatch(/Right-Password|not-the-secret/);
    }
  });

  it("reports an expired client secret as secret_expired at the next token, though the cached one still works", async () => {
    const seedClient = "11111111-0000-4000-8000-00000000000c";
    await ms.control("/_emulator/users", { mail: "unused@acme.test" });
    // a client of its own, so other tests keep their secret
    ms.emulator.state.tenants.get(ms.tenantId)!.clients.set(seedClient, {
      clientId: seedClient,
      clientSecret: "soon-expired",
      secretExpiresAt: null,
      roles: ["IMAP.AccessAsApp"],
      scopes: [],
      consented: true,
    });
    const expiring = account({ clientId: seedClient, clientSecret: "soon-expired" });
    const tokens = ms.tokens();
    const cached = await tokens.acquire(expiring);
    await ms.control(`/_emulator/clients/${seedClient}`, { secretExpiresAt: new Date(Date.now() - 60_000).toISOString() });
    expect((await tokens.acquire(expiring)).accessToken).toBe(cached.accessToken);
    const err = await refusal(tokens.acquire(expiring, { fresh: true }));
    expect(err.code).toBe("secret_expired");
    expect(err.serverText).toMatch(/^AADSTS7000222/);
    expect(err.message).toMatch(/client secret of the Azure app .* has expired/);
  });

  it("gives up on a token request that hangs, after its deadline, in words", async () => {
    await ms.control("/_emulator/faults", { delay: { match: "token", ms: 4000 } });
    try {
      const { TokenService } = await import("./token-service.js");
      const { createLogger } = await import("../logger.js");
      const impatient = new TokenService({ timeoutMs: 300, extraCa: ms.emulator.caPem, log: createLogger("silent") });
      const err = await refusal(impatient.acquire(account()));
      expect(err.code).toBe("timeout");
      expect(err.message).toMatch(/did not answer within/);
    } finally {
      await ms.control("/_emulator/faults", { clear: true });
    }
  });
});
