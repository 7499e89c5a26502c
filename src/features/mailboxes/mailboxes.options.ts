import type { FieldProblem } from "../../errors.js";
import type { acknowledgeModes, initialImports, MailboxType, OptionsInput } from "./mailboxes.schema.js";

/** How an inbound mailbox is read; stored as JSON in mailboxes.options. */
export interface MailboxOptions {
  /** IMAP only */
  folder?: string;
  /** IMAP: seen | move; POP3: delete | keep */
  acknowledge?: (typeof acknowledgeModes)[number];
  /** IMAP with acknowledge "move" only */
  processedFolder?: string;
  initialImport: (typeof initialImports)[number];
}

export function defaultOptions(type: MailboxType): MailboxOptions {
  if (type === "IMAP") return { folder: "INBOX", acknowledge: "seen", initialImport: "all" };
  if (type === "POP3") return { acknowledge: "delete", initialImport: "all" };
  return { initialImport: "all" };
}

export function parseOptions(json: string, type: MailboxType): MailboxOptions {
  return { ...defaultOptions(type), ...(JSON.parse(json) as Partial<MailboxOptions>) };
}

/**
 * The options of an inbound mailbox of `type` after applying `input` to `base` (the current options,
 * or null for the defaults of the type: a mailbox that changes type starts from its new defaults).
 */
export function resolveOptions(
  type: MailboxType,
  base: MailboxOptions | null,
  input: OptionsInput | undefined,
): { options: MailboxOptions; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const problem = (field: string, message: string) => problems.push({ path: `options.${field}`, message });
  const given = input ?? {};

  if (given.folder !== undefined && type !== "IMAP") problem("folder", "Folder applies to IMAP mailboxes only");
  if (given.processedFolder !== undefined && type !== "IMAP") problem("processedFolder", "Processed folder applies to IMAP mailboxes only");
  if (given.acknowledge !== undefined) {
    if (type === "IMAP" && given.acknowledge !== "seen" && given.acknowledge !== "move") {
      problem("acknowledge", "An IMAP mailbox acknowledges a message with seen or move");
    } else if (type === "POP3" && given.acknowledge !== "delete" && given.acknowledge !== "keep") {
      problem("acknowledge", "A POP3 mailbox acknowledges a message with delete or keep");
    } else if (type !== "IMAP" && type !== "POP3") {
      problem("acknowledge", "Acknowledge applies to IMAP and POP3 mailboxes only");
    }
  }
  if (given.initialImport === "unseen" && type === "POP3") {
    problem("initialImport", "POP3 has no read flag: initial import must be all");
  }

  const options: MailboxOptions = { ...(base ?? defaultOptions(type)) };
  for (const [key, value] of Object.entries(given)) {
    if (value !== undefined) Object.assign(options, { [key]: value });
  }
  if (options.acknowledge === "move") {
    if (!options.processedFolder) {
      problem("processedFolder", "Enter the folder that processed messages are moved to (acknowledge is move)");
    } else if (options.processedFolder === options.folder) {
      problem("processedFolder", "Processed folder must differ from the folder that is read");
    }
  } else if (given.processedFolder !== undefined) {
    if (type === "IMAP") problem("processedFolder", "Processed folder applies only when acknowledge is move");
  } else {
    // a leftover from when acknowledge was move
    delete options.processedFolder;
  }
  return { options, problems };
}
