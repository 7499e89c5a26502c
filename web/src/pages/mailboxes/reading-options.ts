// How an inbound mailbox is read (the API's `options`): which fields apply to which protocol, the
// form's defaults, and the request bodies. The API judges every value (src/features/mailboxes/mailboxes.options.ts).

import type { Mailbox, MailboxOptions, MailboxType } from "../../api/types";
import type { MailboxBody, ReadingDraft } from "./mailboxes.types";

export type Acknowledge = NonNullable<MailboxOptions["acknowledge"]>;
export type InitialImport = MailboxOptions["initialImport"];

/** The choices of "After storing a message" for a protocol; the first is the API's default. */
const acknowledgeModes: Partial<Record<MailboxType, readonly Acknowledge[]>> = {
  IMAP: ["seen", "move"],
  POP3: ["delete", "keep"],
};

export function acknowledgeChoicesFor(type: MailboxType): readonly Acknowledge[] {
  return acknowledgeModes[type] ?? [];
}

/** Said as what happens to the message on the mail server, which is what the administrator decides. */
export const acknowledgeLabels: Record<Acknowledge, string> = {
  seen: "Mark it as read",
  move: "Move it to the processed folder",
  delete: "Delete it from the server",
  keep: "Leave it on the server",
};

export const initialImportLabels: Record<InitialImport, string> = {
  all: "All mail, also what is already there",
  unseen: "Only unread mail",
};

/** Only an IMAP mailbox has a folder to choose (and one to move processed mail to). */
export function usesFolder(type: MailboxType): boolean {
  return type === "IMAP";
}

export function usesProcessedFolder(type: MailboxType, acknowledge: Acknowledge): boolean {
  return usesFolder(type) && acknowledge === "move";
}

/** POP3 keeps no read flag: its first read can only take everything. */
export function allowsUnseen(type: MailboxType): boolean {
  return type !== "POP3";
}

/**
 * The form's reading fields for a type, as the API defaults them. Every field has a value whatever the
 * type, so that a type chosen by mistake and chosen back again keeps what was typed; only the fields
 * that apply are shown and sent.
 */
export function readingDefaults(type: MailboxType): ReadingDraft {
  return { folder: "INBOX", acknowledge: acknowledgeChoicesFor(type)[0] ?? "seen", processedFolder: "", initialImport: "all" };
}

/** The form's reading fields for a saved mailbox; a view without options (an older server) means the type's defaults. */
export function readingOf(m: Mailbox): ReadingDraft {
  const d = readingDefaults(m.type);
  const o = m.options;
  return {
    folder: o?.folder ?? d.folder,
    acknowledge: o?.acknowledge ?? d.acknowledge,
    processedFolder: o?.processedFolder ?? d.processedFolder,
    initialImport: o?.initialImport ?? d.initialImport,
  };
}

/** The reading fields after choosing another type: a way of acknowledging or importing that the new protocol lacks becomes its default. */
export function readingFor(r: ReadingDraft, type: MailboxType): ReadingDraft {
  const acknowledge = acknowledgeChoicesFor(type).includes(r.acknowledge) ? r.acknowledge : readingDefaults(type).acknowledge;
  return { ...r, acknowledge, initialImport: allowsUnseen(type) ? r.initialImport : "all" };
}

/** The options for POST: those of the chosen type, as typed. */
export function optionsBody(type: MailboxType, r: ReadingDraft): MailboxBody {
  const body: MailboxBody = {};
  if (usesFolder(type)) body.folder = r.folder;
  if (acknowledgeChoicesFor(type).length > 0) body.acknowledge = r.acknowledge;
  // left empty, it is not sent: the API then says that a move needs a folder, rather than that a name is empty
  if (usesProcessedFolder(type, r.acknowledge) && r.processedFolder.trim() !== "") body.processedFolder = r.processedFolder;
  body.initialImport = r.initialImport;
  return body;
}

/**
 * The options for PATCH: only those that differ from what the mailbox will have without them. A new
 * type starts from its own defaults on the server, so those are what the form is compared with then.
 * Undefined when nothing changed.
 */
export function optionsPatch(m: Mailbox, type: MailboxType, r: ReadingDraft): MailboxBody | undefined {
  const base = type === m.type ? readingOf(m) : readingDefaults(type);
  const full = optionsBody(type, r);
  // a saved processed folder that was emptied is sent empty, so that the API refuses it rather than keeping the old one
  if (usesProcessedFolder(type, r.acknowledge)) full.processedFolder = r.processedFolder;
  const body: MailboxBody = {};
  for (const [key, value] of Object.entries(full)) {
    const before = base[key as keyof ReadingDraft];
    if (typeof value !== "string" || value.trim() !== before.trim()) body[key] = value;
  }
  return Object.keys(body).length > 0 ? body : undefined;
}

/** The API's paths of the reading fields the form shows now, for its messages to appear beside them. */
export function readingPaths(type: MailboxType, r: ReadingDraft): string[] {
  const paths = ["options.initialImport"];
  if (usesFolder(type)) paths.push("options.folder");
  if (acknowledgeChoicesFor(type).length > 0) paths.push("options.acknowledge");
  if (usesProcessedFolder(type, r.acknowledge)) paths.push("options.processedFolder");
  return paths;
}
