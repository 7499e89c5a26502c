import type { MailSourceSettings, TestStep } from "../mail-source.js";
import { TestSteps } from "../test-steps.js";
import type { Pop3Client } from "./pop3-client.js";
import { pop3Error } from "./pop3-errors.js";
import { pop3Connect, pop3Login } from "./pop3-source.js";

/**
 * The POP3 connection test: connect (TLS or STLS as configured) and read the greeting, log in, STAT.
 * Never issues DELE, so the QUIT at the end changes nothing.
 */
export async function testPop3(settings: MailSourceSettings): Promise<TestStep[]> {
  const steps = new TestSteps((err) => pop3Error(err, settings));
  const where = `${settings.host}:${settings.port}`;
  let client: Pop3Client | null = null;
  try {
    client = await steps.run("connect", async () => {
      const c = await pop3Connect(settings);
      const security = c.tlsProtocol ? `with ${settings.security === "starttls" ? "STARTTLS" : "TLS"} (${c.tlsProtocol})` : "without encryption";
      return { value: c, message: `Connected to ${where} ${security}. The server says: ${c.greeting}` };
    });
    if (!client) return steps.steps;
    const session = client;
    const loggedIn = await steps.run("authenticate", async () => {
      await pop3Login(session, settings);
      return { value: true, message: `Logged in as ${settings.login}.` };
    });
    if (!loggedIn) return steps.steps;
    await steps.run("open_folder", async () => {
      const { count, size } = await session.stat();
      return { value: true, message: `The maildrop holds ${count} message${count === 1 ? "" : "s"} (${formatBytes(size)}).` };
    });
    await session.quit().catch(() => undefined);
    return steps.steps;
  } finally {
    client?.close();
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
