import { z } from "zod";
import { displayText, protocolLineBreaks, strictBody, unsafeDisplayCharacters } from "../../http/schema-helpers.js";
import { isEmailAddress, isHostName } from "../../shared/email-address.js";

export const clientTypes = ["inbound", "outbound"] as const;
export type ClientType = (typeof clientTypes)[number];
export const mailboxTypes = ["IMAP", "POP3", "SMTP", "GRAPH", "EWS"] as const;
export type MailboxType = (typeof mailboxTypes)[number];
export const inboundTypes: readonly MailboxType[] = ["IMAP", "POP3", "GRAPH", "EWS"];
export const outboundTypes: readonly MailboxType[] = ["SMTP", "GRAPH", "EWS"];
export const securityModes = ["tls", "starttls", "none"] as const;
export const acknowledgeModes = ["seen", "move", "delete", "keep"] as const;
export const initialImports = ["all", "unseen"] as const;
export const oauthGrants = ["client_credentials", "password"] as const;
export const mailboxStates = ["disabled", "connecting", "ok", "error"] as const;

/** The reference fixes the outbound mailbox's name; it is the one name outside the pattern below. */
export const outboundName = "smtp-client";
export const namePattern = /^[A-Za-z0-9@_.]{1,40}$/;
export const defaultTenantAuthority = "https://login.microsoftonline.com/";

export const messages = {
  name: "Mailbox name may use letters, digits, @ _ . and at most 40 characters",
  maxSizeMb: "Max size must be a whole number of megabytes from 5 to 20",
  port: "Port must be a whole number from 1 to 65535",
  host: "Host must be a server name or IP address, such as imap.example.com (no scheme, no port)",
  login: "Enter the login name the mail server knows this mailbox by (at most 320 characters)",
  fromAddress: "From address must be an email address such as support@example.com",
  tenantAuthority: "Tenant authority must be an https URL, such as https://login.microsoftonline.com/",
} as const;

/** Sent to mail servers in line-based dialogues (POP3 PASS, IMAP LOGIN): a line break would start a command of its own. */
const secret = (label: string) =>
  z
    .string({ error: `${label} must be text` })
    .min(1, `${label} must not be empty`)
    .max(1024, `${label} may have at most 1024 characters`)
    .refine((v) => !protocolLineBreaks.test(v), `${label} may not contain line breaks (CR, LF) or NUL`);

const wholeNumber = (message: string, min: number, max: number) =>
  z.number({ error: message }).int(message).min(min, message).max(max, message);

function isHttpsUrl(text: string): boolean {
  try {
    return new URL(text).protocol === "https:";
  } catch {
    return false;
  }
}

const folderName = (label: string) => displayText(label, { max: 255 });

export const optionsInput = strictBody({
  folder: folderName("Folder").optional(),
  acknowledge: z.enum(acknowledgeModes, { error: "Acknowledge must be seen, move, delete or keep" }).optional(),
  processedFolder: folderName("Processed folder").optional(),
  initialImport: z.enum(initialImports, { error: "Initial import must be all or unseen" }).optional(),
});
export type OptionsInput = z.infer<typeof optionsInput>;

const oauthFields = {
  grant: z.enum(oauthGrants, { error: "Grant must be client_credentials or password" }),
  clientId: displayText("Client ID", { max: 200, required: "Enter the Application (client) ID of the Azure app" }),
  directoryId: displayText("Directory ID", { max: 200, required: "Enter the Directory (tenant) ID of the Azure app" }),
  tenantAuthority: z.string({ error: messages.tenantAuthority }).trim().refine(isHttpsUrl, messages.tenantAuthority).optional(),
  secretExpiresAt: z
    .union([z.iso.date(), z.iso.datetime({ offset: true })], { error: "Secret expiry must be an ISO date such as 2026-12-31" })
    .nullable()
    .optional(),
};

export const authInput = z.discriminatedUnion(
  "method",
  [strictBody({ method: z.literal("password") }), strictBody({ method: z.literal("oauth2"), ...oauthFields })],
  { error: "Auth method must be password or oauth2" },
);
export type AuthInput = z.infer<typeof authInput>;

const common = {
  type: z.enum(mailboxTypes, { error: "Type must be IMAP, POP3, SMTP, GRAPH or EWS" }),
  // sent as USER / LOGIN to the mail server: a line break there is a command injection
  mailbox: z
    .string({ error: messages.login })
    .trim()
    .min(1, messages.login)
    .max(320, messages.login)
    .refine((v) => !unsafeDisplayCharacters.test(v), "The mailbox login may not contain line breaks, other control characters or text-direction overrides"),
  password: secret("Password"),
  host: z.string({ error: messages.host }).trim().refine(isHostName, messages.host),
  port: wholeNumber(messages.port, 1, 65535),
  security: z.enum(securityModes, { error: "Security must be tls, starttls or none" }),
  maxSizeMb: wholeNumber(messages.maxSizeMb, 5, 20),
  fromAddress: z.string({ error: messages.fromAddress }).trim().refine(isEmailAddress, messages.fromAddress),
  fromAddressFolderId: z.string({ error: "From address folder must be the id of a business attribute folder" }).nullable(),
  auth: authInput,
  clientSecret: secret("Client secret"),
  testMailbox: z.boolean({ error: "Test mailbox must be true or false" }),
  options: optionsInput,
};

export const createMailboxBody = strictBody({
  clientType: z.enum(clientTypes, { error: "Client type must be inbound or outbound" }),
  name: z
    .string({ error: messages.name })
    .refine((v) => namePattern.test(v) || v === outboundName, messages.name)
    .optional(),
  type: common.type,
  mailbox: common.mailbox,
  password: common.password.optional(),
  host: common.host,
  port: common.port,
  security: common.security.optional(),
  maxSizeMb: common.maxSizeMb.optional(),
  fromAddress: common.fromAddress.optional(),
  fromAddressFolderId: common.fromAddressFolderId.optional(),
  auth: common.auth.optional(),
  clientSecret: common.clientSecret.optional(),
  testMailbox: common.testMailbox.optional(),
  options: common.options.optional(),
});
export type CreateMailboxInput = z.infer<typeof createMailboxBody>;

export const patchMailboxBody = strictBody({
  // accepted only to say clearly that they cannot change
  name: z.string({ error: "Name must be text" }).optional(),
  clientType: z.string({ error: "Client type must be text" }).optional(),
  type: common.type.optional(),
  mailbox: common.mailbox.optional(),
  password: common.password.optional(),
  host: common.host.optional(),
  port: common.port.optional(),
  security: common.security.optional(),
  maxSizeMb: common.maxSizeMb.optional(),
  fromAddress: common.fromAddress.optional(),
  fromAddressFolderId: common.fromAddressFolderId.optional(),
  auth: common.auth.optional(),
  clientSecret: common.clientSecret.optional(),
  testMailbox: common.testMailbox.optional(),
  options: common.options.optional(),
});
export type PatchMailboxInput = z.infer<typeof patchMailboxBody>;

/** The OAuth settings the migration assistant tries (verify) and switches a mailbox to (migrate). */
export const oauthAuthInput = strictBody({
  method: z.literal("oauth2", { error: "The migration assistant moves a mailbox to OAuth 2.0: auth.method must be oauth2" }),
  ...oauthFields,
});
export type OAuthAuthInput = z.infer<typeof oauthAuthInput>;

export const oauthMigrationBody = strictBody({
  auth: oauthAuthInput,
  clientSecret: common.clientSecret.optional(),
  password: common.password.optional(),
});
export type OAuthMigrationInput = z.infer<typeof oauthMigrationBody>;

export const oauthRevertBody = strictBody({ password: common.password.optional() });
export type OAuthRevertInput = z.infer<typeof oauthRevertBody>;

export const listMailboxesQuery = z.object({
  clientType: z.enum(["inbound", "outbound", "all"], { error: "clientType must be inbound, outbound or all" }).default("all"),
  q: z.string().trim().max(200, "Search text may have at most 200 characters").optional(),
});

const optionsView = z.object({
  folder: z.string().optional(),
  acknowledge: z.enum(acknowledgeModes).optional(),
  processedFolder: z.string().optional(),
  initialImport: z.enum(initialImports),
});

const authView = z.union([
  z.object({ method: z.literal("password") }),
  z.object({
    method: z.literal("oauth2"),
    grant: z.enum(oauthGrants),
    clientId: z.string(),
    directoryId: z.string(),
    tenantAuthority: z.string(),
    secretExpiresAt: z.string().optional(),
    secretExpiry: z
      .object({ state: z.enum(["ok", "expiring", "expired"]), daysLeft: z.number() })
      .optional()
      .describe("From secretExpiresAt: expiring within 30 days, or expired (Entra ID then refuses every new token and mail stops)"),
  }),
]);

export const mailboxStatusView = z.object({
  state: z.enum(mailboxStates),
  code: z.string().optional(),
  message: z.string().optional(),
  lastSyncAt: z.string().optional(),
  nodeId: z.string().optional().describe("the node that runs the mailbox (GET /api/v1/nodes)"),
  nodeName: z.string().optional().describe("that node's name (MAILROOM_NODE_NAME), while it runs"),
  warnings: z
    .array(z.object({ code: z.string(), message: z.string(), at: z.string() }))
    .describe(
      "What the mailbox's runner set aside or could not do, newest first (at most 20): message_skipped, message_unstorable, ack_refused, key_reused, notifications_unavailable. " +
        "Cleared with DELETE /api/v1/mailboxes/{id}/warnings.",
    ),
});

export const mailboxView = z.object({
  id: z.string(),
  name: z.string(),
  clientType: z.enum(clientTypes),
  type: z.enum(mailboxTypes),
  mailbox: z.string(),
  host: z.string(),
  port: z.number(),
  security: z.enum(securityModes),
  maxSizeMb: z.number().nullable(),
  fromAddress: z.string().nullable(),
  fromAddressFolderId: z.string().nullable(),
  options: optionsView.optional(),
  auth: authView,
  passwordSet: z.boolean(),
  clientSecretSet: z.boolean(),
  testMailbox: z.boolean(),
  oauthMigration: z
    .object({ migratedAt: z.string(), canRevertWithoutPassword: z.boolean() })
    .optional()
    .describe(
      "Set while the mailbox signs in with OAuth 2.0 because the migration assistant moved it from its password. " +
        "canRevertWithoutPassword: its kept password would go where it went before (same type, host, port, security and login), " +
        "so POST /api/v1/mailboxes/{id}/oauth/revert needs no password.",
    ),
  enabled: z.boolean(),
  status: mailboxStatusView,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type MailboxView = z.infer<typeof mailboxView>;

/** What a supervisor sees of a mailbox: whether mail flows, and why not; no server, login or OAuth settings. */
export const mailboxHealthView = z.object({
  id: z.string(),
  name: z.string(),
  clientType: z.enum(clientTypes),
  type: z.enum(mailboxTypes),
  enabled: z.boolean(),
  status: mailboxStatusView,
  secretExpiry: z
    .object({ state: z.enum(["ok", "expiring", "expired"]), daysLeft: z.number() })
    .nullable()
    .describe("OAuth 2.0 mailboxes with a client secret expiry date: expiring within 30 days, or expired"),
});
export type MailboxHealthView = z.infer<typeof mailboxHealthView>;

const testStepView = z.object({ step: z.string(), ok: z.boolean(), ms: z.number(), message: z.string().optional() });

export const testResultView = z.object({
  ok: z.boolean(),
  steps: z.array(testStepView),
});

export const oauthVerifyResultView = testResultView.extend({ verificationId: z.string() });

export const oauthMigrateResultView = oauthVerifyResultView.extend({ mailbox: mailboxView });

export const oauthVerificationView = z.object({
  id: z.string(),
  grant: z.enum(oauthGrants),
  clientId: z.string(),
  directoryId: z.string(),
  tenantAuthority: z.string(),
  ok: z.boolean(),
  steps: z.array(testStepView),
  verifiedAt: z.string(),
  testMailbox: z.boolean().describe("whether the mailbox was a test mailbox when it was verified"),
});
export type OAuthVerificationView = z.infer<typeof oauthVerificationView>;
