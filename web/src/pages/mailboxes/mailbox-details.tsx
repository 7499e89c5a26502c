import { useId, useState, type ReactNode } from "react";
import { del } from "../../api/client";
import type { Mailbox, MailboxState } from "../../api/types";
import { ErrorNotice } from "../../ui/notices";
import { Time } from "../../ui/time";
import { typeLabels } from "./mailbox-draft";
import type { Folder } from "./mailboxes.types";
import { acknowledgeChoicesFor, acknowledgeLabels, initialImportLabels, readingOf, usesFolder, usesProcessedFolder } from "./reading-options";
import { TestConnection } from "./test-connection";

const stateBadges: Record<MailboxState, { label: string; className: string }> = {
  disabled: { label: "Disabled", className: "badge" },
  connecting: { label: "Connecting", className: "badge badge-info" },
  ok: { label: "Connected", className: "badge badge-ok" },
  error: { label: "Error", className: "badge badge-error" },
};

const stateHelp: Record<MailboxState, string> = {
  disabled: "Mailroom does not read or send with this mailbox until an enabled application lists it.",
  connecting: "Mailroom is connecting to the mail server.",
  ok: "Mailroom is connected and reading mail.",
  error: "Mailroom cannot work with this mailbox; it keeps trying. The server’s words are below.",
};

const securityLabels = { tls: "TLS", starttls: "STARTTLS", none: "None (clear text)" } as const;

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

function SecretExpiry({ auth }: { auth: Mailbox["auth"] }) {
  if (auth.method !== "oauth2" || !auth.secretExpiresAt) return <>Not recorded</>;
  const date = <span>{auth.secretExpiresAt.slice(0, 10)}</span>;
  const expiry = auth.secretExpiry;
  if (!expiry) return date;
  if (expiry.state === "expired") {
    return (
      <>
        {date} <span className="badge badge-error">Expired</span>
        <div className="small">Entra ID refuses new tokens, so mail stops: create a new client secret in Entra ID and enter it with Edit.</div>
      </>
    );
  }
  if (expiry.state === "expiring") {
    return (
      <>
        {date} <span className="badge badge-warn">Expires in {expiry.daysLeft} days</span>
        <div className="small">Create a new client secret in Entra ID and enter it with Edit before then.</div>
      </>
    );
  }
  return (
    <>
      {date} <span className="muted small">({expiry.daysLeft} days left)</span>
    </>
  );
}

function SignIn({ m }: { m: Mailbox }) {
  if (m.auth.method === "password") return <Row label="Sign-in">Password {m.passwordSet ? "(set)" : "(not set: type it with Edit)"}</Row>;
  const a = m.auth;
  return (
    <>
      <Row label="Sign-in">OAuth 2.0, {a.grant === "client_credentials" ? "client credentials" : "password grant"}</Row>
      <Row label="Application (client) ID">{a.clientId}</Row>
      <Row label="Directory (tenant) ID">{a.directoryId}</Row>
      <Row label="Tenant authority">{a.tenantAuthority}</Row>
      {a.grant === "client_credentials" ? (
        <>
          <Row label="Client secret">{m.clientSecretSet ? "Set" : "Not set: enter it with Edit"}</Row>
          <Row label="Secret expiry">
            <SecretExpiry auth={a} />
          </Row>
        </>
      ) : (
        <Row label="Password">{m.passwordSet ? "Set" : "Not set: type it with Edit"}</Row>
      )}
    </>
  );
}

/** How an inbound mailbox is read, as the form's Reading settings say it. */
function Reading({ m }: { m: Mailbox }) {
  const r = readingOf(m);
  return (
    <>
      {usesFolder(m.type) ? <Row label="Folder">{r.folder}</Row> : null}
      {acknowledgeChoicesFor(m.type).length > 0 ? <Row label="After storing">{acknowledgeLabels[r.acknowledge]}</Row> : null}
      {usesProcessedFolder(m.type, r.acknowledge) ? <Row label="Processed folder">{r.processedFolder}</Row> : null}
      <Row label="Initial import">{initialImportLabels[r.initialImport]}</Row>
    </>
  );
}

function Status({ m, onChanged }: { m: Mailbox; onChanged: () => void }) {
  const { status } = m;
  const badge = stateBadges[status.state];
  const [clearing, setClearing] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const headingId = useId();
  const clear = () => {
    setClearing({ busy: true });
    del(`/api/v1/mailboxes/${encodeURIComponent(m.id)}/warnings`).then(
      () => {
        setClearing({ busy: false });
        onChanged();
      },
      (error: unknown) => setClearing({ busy: false, error }),
    );
  };
  return (
    <section className="mbx-status" aria-labelledby={headingId}>
      <h3 id={headingId}>Connection status</h3>
      <div aria-live="polite">
        <dl className="details">
          <Row label="State">
            <span className={badge.className} data-state={status.state}>
              {badge.label}
            </span>
            <div className="muted small">{stateHelp[status.state]}</div>
          </Row>
          {status.code ? (
            <Row label="Code">
              <code>{status.code}</code>
            </Row>
          ) : null}
          {status.message ? <Row label="Message">{status.message}</Row> : null}
        </dl>
      </div>
      {/* outside the live region: the relative time renews itself and is not news */}
      <dl className="details">
        <Row label="Last sync">
          <Time iso={status.lastSyncAt} />
        </Row>
        {status.nodeName && status.state !== "disabled" ? <Row label="Runs on node">{status.nodeName}</Row> : null}
      </dl>
      {status.warnings.length > 0 ? (
        <div className="mbx-warnings">
          <h4>Warnings</h4>
          <ul>
            {status.warnings.map((w) => (
              <li key={`${w.at}-${w.code}`}>
                <span className="badge badge-warn">{w.code}</span> {w.message} <Time iso={w.at} />
              </li>
            ))}
          </ul>
          <ErrorNotice error={clearing.error} />
          <button type="button" onClick={clear} disabled={clearing.busy}>
            {clearing.busy ? "Clearing…" : "Clear warnings"}
          </button>
        </div>
      ) : null}
    </section>
  );
}

/** The right-hand pane: the selected mailbox's settings and its live connection status. */
export function MailboxDetails({ mailbox: m, folders, onChanged }: { mailbox: Mailbox; folders: Folder[] | undefined; onChanged: () => void }) {
  const folder = m.fromAddressFolderId ? folders?.find((f) => f.id === m.fromAddressFolderId) : undefined;
  return (
    <div className="mbx-details">
      <h2>{m.name}</h2>
      <p className="mbx-detail-badges">
        <span className="badge badge-info">{m.clientType === "inbound" ? "Inbound" : "Outbound"}</span>{" "}
        <span className="badge">{typeLabels[m.type]}</span>{" "}
        {m.enabled ? <span className="badge badge-error">Enabled</span> : <span className="badge">Disabled</span>}
        {m.testMailbox ? (
          <>
            {" "}
            <span className="badge badge-warn">Test mailbox</span>
          </>
        ) : null}
      </p>
      {m.enabled ? (
        <p className="mbx-enabled-note">
          Enabled mailboxes cannot be deleted.{" "}
          {m.clientType === "outbound"
            ? "The outbound mailbox is enabled while any application is enabled; disable the applications first."
            : "Disable its application, or remove the mailbox from it, first."}
        </p>
      ) : null}
      <dl className="details">
        <Row label="Mailbox">{m.mailbox}</Row>
        <Row label="Server">
          {m.host}:{m.port} <span className="muted">({securityLabels[m.security]})</span>
        </Row>
        {m.clientType === "inbound" ? (
          <>
            <Row label="Max size">{m.maxSizeMb} MB</Row>
            <Reading m={m} />
          </>
        ) : null}
        {m.clientType === "outbound" ? (
          <>
            <Row label="From address">{m.fromAddress ?? "—"}</Row>
            <Row label="From addresses folder">{m.fromAddressFolderId ? (folder?.name ?? "…") : "None"}</Row>
          </>
        ) : null}
        <SignIn m={m} />
        {m.oauthMigration ? (
          <Row label="Moved to OAuth 2.0">
            <Time iso={m.oauthMigration.migratedAt} />
          </Row>
        ) : null}
        <Row label="Changed">
          <Time iso={m.updatedAt} />
        </Row>
      </dl>
      <Status m={m} onChanged={onChanged} />
      <TestConnection key={m.id} mailboxId={m.id} />
    </div>
  );
}
