import { MailSourceError, type MailSourceSettings, type TestStep } from "../mail-source.js";
import { ewsClientFor } from "./ews-client.js";
import { getInbox, single } from "./ews-operations.js";
import { child, text } from "./ews-xml.js";

/**
 * The connection test of an EWS mailbox: sign in and open the Inbox (GetFolder), which every inbound
 * sync needs and an outbound mailbox's user can do too. Nothing is changed or sent.
 */
export async function testEws(settings: MailSourceSettings, options: { ca: string[] | undefined; timeoutMs: number }): Promise<TestStep[]> {
  const client = ewsClientFor(settings, { ...options, retryBudgetMs: 5_000 });
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const answer = single(await client.call(getInbox()), settings.login, client.host);
    const folder = child(child(answer.node, "Folders"), "Folder");
    const total = text(folder, "TotalCount");
    const counts = total === "" ? "" : ` (${total} messages, ${text(folder, "UnreadCount") || "0"} unread)`;
    return [{ step: "open_folder", ok: true, ms: ms(), message: `Opened the Inbox of ${settings.login} through EWS at ${client.host}${counts}` }];
  } catch (err) {
    const said = err instanceof MailSourceError && err.serverText ? ` (${err.serverText})` : "";
    const message = (err instanceof Error ? err.message : String(err)) + said;
    const code = err instanceof MailSourceError ? err.code : null;
    const step: TestStep["step"] = code === "auth_failed" ? "authenticate" : code === "folder_missing" || code === "consent_required" ? "open_folder" : "connect";
    return [{ step, ok: false, ms: ms(), message }];
  } finally {
    client.close();
  }
}
