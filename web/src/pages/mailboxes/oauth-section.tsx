import type { Mailbox, OAuthGrant } from "../../api/types";
import { CheckboxField, SelectField, TextField } from "../../ui/fields";
import { defaultTenantAuthority } from "./mailbox-draft";
import type { AuthMethod, MailboxDraft } from "./mailboxes.types";

const methodChoices = [
  { value: "password", label: "Password" },
  { value: "oauth2", label: "OAuth 2.0 (Microsoft Entra ID)" },
];

const grantChoices = [
  { value: "client_credentials", label: "Client credentials (application permissions, client secret)" },
  { value: "password", label: "Password (delegated: the mailbox’s own password)" },
];

/**
 * How the mailbox signs in: its password, or an OAuth 2.0 token from Microsoft Entra ID for the
 * Azure app registration given here. The client secret is write-only: the form says whether one is
 * stored, never what it is.
 */
export function OAuthSection({
  draft: d,
  saved,
  errors,
  onChange,
}: {
  draft: MailboxDraft;
  /** the saved mailbox when editing: whether a client secret is stored */
  saved: Mailbox | undefined;
  errors: Record<string, string>;
  onChange: (patch: Partial<MailboxDraft>) => void;
}) {
  const graph = d.type === "GRAPH";
  const secretStored = saved?.clientSecretSet === true;
  return (
    <fieldset className="mbx-oauth-section">
      <legend>Sign-in (OAuth 2.0)</legend>
      <div className="form-grid">
        <SelectField
          label="Authentication method"
          value={d.authMethod}
          onChange={(v) => onChange({ authMethod: v as AuthMethod })}
          choices={methodChoices.map((c) => ({ ...c, disabled: graph && c.value === "password" }))}
          error={errors["auth.method"] ?? errors.auth}
          hint={
            graph
              ? "A Microsoft Graph mailbox signs in with OAuth 2.0 client credentials."
              : "OAuth 2.0 for Exchange Online (IMAP, POP3, SMTP, EWS); a password for other servers."
          }
        />
        {d.authMethod === "oauth2" ? (
          <SelectField
            label="Grant"
            value={d.grant}
            onChange={(v) => onChange({ grant: v as OAuthGrant })}
            choices={grantChoices.map((c) => ({ ...c, disabled: graph && c.value === "password" }))}
            error={errors["auth.grant"]}
          />
        ) : null}
      </div>
      {d.authMethod === "oauth2" ? (
        <>
          <div className="form-grid">
            <TextField
              label="Application (client) ID"
              value={d.clientId}
              onChange={(clientId) => onChange({ clientId })}
              error={errors["auth.clientId"]}
              required
              autoComplete="off"
              hint="From the app registration’s Overview page in Entra ID"
            />
            <TextField
              label="Directory (tenant) ID"
              value={d.directoryId}
              onChange={(directoryId) => onChange({ directoryId })}
              error={errors["auth.directoryId"]}
              required
              autoComplete="off"
            />
          </div>
          <TextField
            label="Tenant authority"
            value={d.tenantAuthority}
            onChange={(tenantAuthority) => onChange({ tenantAuthority })}
            error={errors["auth.tenantAuthority"]}
            type="url"
            autoComplete="off"
            hint={`Leave ${defaultTenantAuthority} unless your tenant uses another authority server`}
          />
          {d.grant === "client_credentials" ? (
            <div className="form-grid">
              <TextField
                label="Client secret"
                type="password"
                value={d.clientSecret}
                onChange={(clientSecret) => onChange({ clientSecret })}
                error={errors.clientSecret}
                required={!secretStored}
                autoComplete="new-password"
                hint={
                  secretStored ? (
                    <>
                      <span className="mbx-secret-state">A client secret is set.</span> Leave this empty to keep it; type a new one to replace it.
                    </>
                  ) : (
                    <span className="mbx-secret-state">No client secret is set yet.</span>
                  )
                }
              />
              <TextField
                label="Secret expiry date"
                type="date"
                value={d.secretExpiresAt}
                onChange={(secretExpiresAt) => onChange({ secretExpiresAt })}
                error={errors["auth.secretExpiresAt"]}
                hint="As Entra ID shows it: Mailroom warns 30 days before the secret expires"
              />
            </div>
          ) : null}
        </>
      ) : null}
      <CheckboxField
        label="Test mailbox"
        checked={d.testMailbox}
        onChange={(testMailbox) => onChange({ testMailbox })}
        error={errors.testMailbox}
        hint="A mailbox with its own credentials for trying OAuth 2.0 settings before other mailboxes move to them"
      />
    </fieldset>
  );
}
