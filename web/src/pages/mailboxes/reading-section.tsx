import type { MailboxType } from "../../api/types";
import { SelectField, TextField } from "../../ui/fields";
import type { ReadingDraft } from "./mailboxes.types";
import {
  acknowledgeChoicesFor,
  acknowledgeLabels,
  allowsUnseen,
  initialImportLabels,
  usesFolder,
  usesProcessedFolder,
  type Acknowledge,
  type InitialImport,
} from "./reading-options";

const acknowledgeHints: Partial<Record<MailboxType, string>> = {
  IMAP: "Done once the message is safely stored, so that it is never taken twice.",
  POP3: "Done once the message is safely stored. Left on the server, it stays there and Mailroom remembers it already took it.",
};

function initialImportHint(type: MailboxType): string {
  if (!allowsUnseen(type)) return "A POP3 server does not mark mail as read, so the first read takes all mail waiting on the server.";
  return "The first read, when the mailbox is first enabled: also the mail already there, or only unread mail.";
}

/**
 * How the inbound mailbox is read: only the settings that the chosen protocol has. Each value goes to
 * the API as chosen; its messages appear beside the fields.
 */
export function ReadingSection({
  type,
  reading: r,
  errors,
  onChange,
}: {
  type: MailboxType;
  reading: ReadingDraft;
  errors: Record<string, string>;
  onChange: (reading: ReadingDraft) => void;
}) {
  const acknowledgeChoices = acknowledgeChoicesFor(type);
  return (
    <fieldset className="mbx-reading-section">
      <legend>Reading</legend>
      <div className="form-grid">
        {usesFolder(type) ? (
          <TextField
            label="Folder"
            value={r.folder}
            onChange={(folder) => onChange({ ...r, folder })}
            error={errors["options.folder"]}
            required
            autoComplete="off"
            hint="The folder on the mail server that new mail is read from; INBOX unless the server sorts it elsewhere"
          />
        ) : null}
        {acknowledgeChoices.length > 0 ? (
          <SelectField
            label="After storing a message"
            value={r.acknowledge}
            onChange={(v) => onChange({ ...r, acknowledge: v as Acknowledge })}
            choices={acknowledgeChoices.map((a) => ({ value: a, label: acknowledgeLabels[a] }))}
            error={errors["options.acknowledge"]}
            hint={acknowledgeHints[type]}
          />
        ) : null}
        {usesProcessedFolder(type, r.acknowledge) ? (
          <TextField
            label="Processed folder"
            value={r.processedFolder}
            onChange={(processedFolder) => onChange({ ...r, processedFolder })}
            error={errors["options.processedFolder"]}
            required
            autoComplete="off"
            hint="The folder on the mail server that stored messages are moved to; not the folder that is read"
          />
        ) : null}
        <SelectField
          label="Initial import"
          value={r.initialImport}
          onChange={(v) => onChange({ ...r, initialImport: v as InitialImport })}
          choices={(["all", "unseen"] as const).map((i) => ({ value: i, label: initialImportLabels[i], disabled: i === "unseen" && !allowsUnseen(type) }))}
          error={errors["options.initialImport"]}
          hint={initialImportHint(type)}
        />
      </div>
    </fieldset>
  );
}
