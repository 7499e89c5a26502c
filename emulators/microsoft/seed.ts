/**
 * What the emulator starts with: tenants, their app registrations (clients) and their users. A seed
 * file given with --seed has this shape; anything left out takes the default below.
 */

/** Application permissions (the token's `roles`) a client may be granted; the names are Microsoft's. */
export const allApplicationPermissions = [
  "Mail.ReadWrite",
  "Mail.Send",
  "User.Read.All",
  "IMAP.AccessAsApp",
  "POP.AccessAsApp",
  "SMTP.SendAsApp",
  "full_access_as_app",
] as const;

/** Delegated permissions (the token's `scp`) a user may consent to for a client; the names are Microsoft's. */
export const allDelegatedPermissions = [
  "User.Read",
  "Mail.ReadWrite",
  "Mail.Send",
  "IMAP.AccessAsUser.All",
  "POP.AccessAsUser.All",
  "SMTP.Send",
  "EWS.AccessAsUser.All",
  "offline_access",
] as const;

export interface SeedClient {
  clientId: string;
  clientSecret: string;
  /** ISO time after which the secret is refused with AADSTS7000222; none: it does not expire */
  secretExpiresAt?: string | null;
  /** application permissions with admin consent (the token's roles) */
  roles?: string[];
  /** delegated permissions with admin consent (the token's scp in ROPC tokens) */
  scopes?: string[];
  /** false: every token request is refused with AADSTS65001 (consent missing) */
  consented?: boolean;
}

export interface SeedUser {
  id?: string;
  mail: string;
  /** for the password (ROPC) grant */
  password?: string;
  displayName?: string;
  /** "mfa": ROPC refused with AADSTS50076; "locked": refused with AADSTS50053 */
  signIn?: "ok" | "mfa" | "locked";
}

export interface SeedTenant {
  id: string;
  /** a verified domain of the tenant, e.g. contoso.test */
  domain?: string;
  clients: SeedClient[];
  users: SeedUser[];
}

export interface Seed {
  tenants: SeedTenant[];
}

export const defaultSeed: Seed = {
  tenants: [
    {
      id: "8a7c3f0e-5b1d-4c2a-9e6f-0d1c2b3a4f5e",
      domain: "contoso.test",
      clients: [
        {
          clientId: "3f2b1c4d-6e5f-4a7b-8c9d-0e1f2a3b4c5d",
          clientSecret: "emulator-secret-0001",
          roles: [...allApplicationPermissions],
          scopes: [...allDelegatedPermissions],
        },
      ],
      users: [
        { id: "11111111-1111-4111-8111-111111111111", mail: "support@contoso.test", password: "Support-Password-1", displayName: "Support" },
        { id: "22222222-2222-4222-8222-222222222222", mail: "sales@contoso.test", password: "Sales-Password-1", displayName: "Sales" },
      ],
    },
  ],
};
