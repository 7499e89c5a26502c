import type { MailSourceSettings, TestStep } from "../mail-source.js";
import { MailSourceError } from "../mail-source.js";
import { GraphClient } from "./graph-client.js";

/**
 * The connection test of a Graph mailbox after its token step: open the Inbox. An outbound mailbox with
 * only Mail.Send cannot read it, which the step says without failing: sending needs no read access.
 */
export async function testGraph(settings: MailSourceSettings, options: { ca: string[] | undefined; timeoutMs: number; outbound: boolean }): Promise<TestStep[]> {
  const port = settings.port === 443 ? "" : `:${settings.port}`;
  const client = new GraphClient({ baseUrl: `https://${settings.host}${port}`, login: settings.login, credentials: settings.credentials, ca: options.ca, timeoutMs: options.timeoutMs, retryBudgetMs: 5_000 });
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const inbox = await client.json<{ totalItemCount?: number; unreadItemCount?: number }>("GET", client.userPath("/mailFolders/inbox?$select=id,totalItemCount,unreadItemCount"));
    const counts = inbox.totalItemCount === undefined ? "" : ` (${inbox.totalItemCount} messages, ${inbox.unreadItemCount ?? 0} unread)`;
    return [{ step: "open_folder", ok: true, ms: ms(), message: `Opened the Inbox of ${settings.login}${counts}` }];
  } catch (err) {
    const said = err instanceof MailSourceError && err.serverText ? ` (${err.serverText})` : "";
    const message = (err instanceof Error ? err.message : String(err)) + said;
    if (options.outbound && err instanceof MailSourceError && err.code === "consent_required") {
      return [{ step: "open_folder", ok: true, ms: ms(), message: `Graph answered for ${settings.login}; the app may not read its mail, which sending does not need${said}` }];
    }
    const step: TestStep["step"] = err instanceof MailSourceError && err.code === "auth_failed" ? "authenticate" : err instanceof MailSourceError && err.code === "folder_missing" ? "open_folder" : "connect";
    return [{ step, ok: false, ms: ms(), message }];
  } finally {
    client.close();
  }
}
