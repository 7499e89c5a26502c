import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { ImapFlow } from "imapflow";
import { bareClient } from "./bare-imap-client.js";
import { dovecotConfig, mailUser, makeCertificate, type Ports } from "./dovecot-config.js";
import { ensureDovecot } from "./dovecot-install.js";
import { freePort } from "./net.js";

export interface DovecotUser {
  name: string;
  password: string;
}

export interface DovecotOptions {
  users?: DovecotUser[];
  /** for tests with many sessions: Dovecot's 2.3 defaults stop near 1,000 */
  extra?: { imapProcessLimit?: number; clientLimit?: number };
  /** ssl = yes with a self-signed certificate, STARTTLS, and imaps/pop3s listeners */
  tls?: boolean;
  /**
   * XOAUTH2 / OAUTHBEARER logins, checked by POSTing the token to this RFC 7662 introspection URL
   * (it must answer 200 with `{"active": true, "email": "<user>"}`, or `{"active": false}`).
   */
  oauth2IntrospectionUrl?: string;
  /** more lines for dovecot-oauth2.conf.ext (tls_ca_cert_file, username_format, send_auth_headers) */
  oauth2Settings?: string[];
  /**
   * mail_max_userip_connections (Dovecot's default is 10): with 1, a second session of a user from the
   * same address is refused, and the log says "Maximum number of connections from user+IP exceeded".
   */
  maxUserIpConnections?: number;
}

export interface Dovecot {
  host: "127.0.0.1";
  imapPort: number;
  pop3Port: number;
  imapsPort: number | undefined;
  pop3sPort: number | undefined;
  /** the self-signed certificate (PEM) when started with tls */
  certificatePem: string | undefined;
  addUser(name: string, password: string): void;
  /** APPENDs to the user's INBOX and returns the new UID */
  append(user: string, raw: Buffer | string, flags?: string[]): Promise<number>;
  /**
   * Drops messages straight into the user's maildir (new/), as a local delivery agent would: thousands
   * per second where APPEND manages ~150. Dovecot gives them UIDs when a session next looks.
   */
  deliver(user: string, raws: Buffer[]): Promise<void>;
  /** UID → flags of every message in the user's INBOX (or another folder) */
  flags(user: string, folder?: string): Promise<Map<number, string[]>>;
  /** number of messages in the user's INBOX (or another folder) */
  count(user: string, folder?: string): Promise<number>;
  /** creates a folder for the user */
  createFolder(user: string, folder: string): Promise<void>;
  /** the raw bytes of every message in a folder, by UID */
  sources(user: string, folder?: string): Promise<Map<number, Buffer>>;
  /** the INBOX UIDVALIDITY the server reports now */
  uidValidity(user: string): Promise<string>;
  /**
   * Freezes the user's IMAP/POP3 session processes (SIGSTOP): their connections stay open but the
   * server goes silent. Returns a function that lets them run again.
   */
  pauseSessions(user: string): Promise<() => void>;
  /** the PIDs of the user's IMAP/POP3 session processes now (one per open session) */
  sessions(user: string): number[];
  /** stops and starts the server on the same ports; connected clients lose their sessions */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** makes Dovecot hand out a new UIDVALIDITY for the user's INBOX, keeping its messages (restarts) */
  resetUidValidity(user: string): Promise<void>;
  /**
   * Makes the files of the user's messages that contain `marker` unreadable to Dovecot (a damaged
   * message on disk): Dovecot then refuses to hand them over. Returns the file names.
   */
  makeUnreadable(user: string, marker: string): string[];
  /** the raw bytes of every message file in the user's INBOX maildir, read from disk (also the unreadable ones) */
  maildirMessages(user: string): Buffer[];
  logText(): string;
}

/** Whether the process runs; a zombie counts as gone (init here reaps late). */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Whether `pid` is a live Dovecot master started with this config file. */
function isMasterOf(pid: number, configFile: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(configFile);
  } catch {
    return false;
  }
}

/** The PIDs whose parent is `pid`. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** The master's IMAP/POP3 session processes of the user: their titles name the user (verbose_proctitle). */
function sessionPids(master: number, user: string): number[] {
  return childPids(master).filter((pid) => {
    try {
      const title = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      return /^dovecot\/(imap|pop3) /.test(title) && title.includes(`[${user} `);
    } catch {
      return false;
    }
  });
}

/** Whether a server on the port sends an IMAP greeting within a second. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (chunk: Buffer) => done(chunk.toString("latin1").startsWith("* OK")));
  });
}

async function waitFor(what: string, deadlineMs: number, check: () => boolean): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`Dovecot: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A private Dovecot (IMAP and POP3) in a temp dir on 127.0.0.1 with passwd-file users and
 * maildirs. Everything it writes stays in that dir; stop() removes it.
 */
export async function startDovecot(opts: DovecotOptions = {}): Promise<Dovecot> {
  if (!ensureDovecot()) throw new Error("Dovecot is not installed and cannot be installed here");
  const ids = mailUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-dovecot-"));
  // mail processes run as vmail and must reach the maildirs below this dir
  fs.chmodSync(dir, 0o755);
  for (const sub of ["mail", "home"]) {
    fs.mkdirSync(path.join(dir, sub));
    fs.chownSync(path.join(dir, sub), ids.uid, ids.gid);
  }
  const usersDir = path.join(dir, "users");
  fs.mkdirSync(usersDir, { mode: 0o755 });
  const passwords = new Map<string, string>();
  const writeUser = (name: string, password: string) => {
    if (/[/:\s]/.test(name) || name.startsWith(".")) throw new Error(`Dovecot: unusable user name ${name}`);
    passwords.set(name, password);
    const file = path.join(usersDir, name);
    // written whole and renamed, so the auth process never reads half a file
    fs.writeFileSync(`${file}.tmp`, `${name}:{PLAIN}${password}::::::\n`, { mode: 0o644 });
    fs.renameSync(`${file}.tmp`, file);
  };
  for (const u of opts.users ?? []) writeUser(u.name, u.password);

  let certificatePem: string | undefined;
  if (opts.tls) certificatePem = fs.readFileSync(makeCertificate(dir).cert, "utf8");
  // a port closed a moment ago can be handed out again: four equal-looking free ports are not enough
  const taken = new Set<number>();
  const distinctPort = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const ports: Ports = { imap: await distinctPort(), pop3: await distinctPort(), imaps: await distinctPort(), pop3s: await distinctPort() };
  if (opts.oauth2IntrospectionUrl) {
    const oauth2 = [
      `introspection_mode = post`,
      `introspection_url = ${opts.oauth2IntrospectionUrl}`,
      `username_attribute = email`,
      `active_attribute = active`,
      `active_value = true`,
      `force_introspection = yes`,
      ...(opts.oauth2Settings ?? []),
    ];
    fs.writeFileSync(path.join(dir, "dovecot-oauth2.conf.ext"), oauth2.join("\n") + "\n", { mode: 0o644 });
  }
  const configFile = path.join(dir, "dovecot.conf");
  fs.writeFileSync(configFile, dovecotConfig(dir, ids, ports, opts));
  const pidFile = path.join(dir, "run", "master.pid");
  const logFile = path.join(dir, "dovecot.log");
  let masterPid: number | null = null;

  const start = async () => {
    // the daemon keeps inherited pipes open, so its output goes to a file rather than to us
    // Dovecot refuses to start while the PID in its PID file runs, and a zombie (init reaps late) counts
    const stale = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim()) : null;
    if (stale !== null && !isAlive(stale)) fs.rmSync(pidFile, { force: true });
    const out = fs.openSync(path.join(dir, "startup.out"), "w");
    const res = spawnSync("/usr/sbin/dovecot", ["-c", configFile], { stdio: ["ignore", out, out] });
    fs.closeSync(out);
    if (res.status !== 0) {
      const said = fs.readFileSync(path.join(dir, "startup.out"), "utf8");
      // seen once under load: the master this very start launched was found running; it is ours, so go on
      const running = /already running with PID (\d+)/.exec(said);
      if (!running || !isMasterOf(Number(running[1]), configFile)) throw new Error(`dovecot did not start: ${said}\n${readLog()}`);
    }
    // the master creates the file before it writes its PID into it: an empty read would be PID 0, and
    // stop() would then leave the master running
    const readPid = () => {
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim()) : 0;
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    };
    await waitFor("its PID file", 10_000, () => readPid() !== null);
    masterPid = readPid();
    // the listeners are up once a login process greets us
    const until = Date.now() + 10_000;
    while (!(await greets(ports.imap))) {
      if (Date.now() > until) throw new Error(`Dovecot: no IMAP greeting on port ${ports.imap}\n${readLog()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const stopMaster = async () => {
    const pid = masterPid;
    if (pid === null) return;
    masterPid = null;
    if (!isAlive(pid)) return;
    // Session processes outlive their master for up to ~10 s; a restart has to cut them off the
    // way a real one does, so they are ended too (they are this master's children, known by PID).
    const sessions = childPids(pid);
    process.kill(pid, "SIGTERM");
    await waitFor(`master ${pid} to exit`, 15_000, () => !isAlive(pid));
    for (const child of sessions) {
      try {
        if (isAlive(child)) {
          process.kill(child, "SIGTERM");
          // a paused session would sit on the signal until it runs again
          process.kill(child, "SIGCONT");
        }
      } catch {
        // gone already
      }
    }
    await waitFor("the session processes to exit", 15_000, () => sessions.every((child) => !isAlive(child)));
  };

  const readLog = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");

  const withClient = async <T>(user: string, fn: (client: ImapFlow) => Promise<T>): Promise<T> => {
    const pass = passwords.get(user);
    if (pass === undefined) throw new Error(`Dovecot: no user ${user}`);
    const client = bareClient(ports.imap, user, pass);
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.logout().catch(() => client.close());
    }
  };

  try {
    await start();
  } catch (err) {
    // a master that started but never greeted is ended before its files go
    await stopMaster().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const dovecot: Dovecot = {
    host: "127.0.0.1",
    imapPort: ports.imap,
    pop3Port: ports.pop3,
    imapsPort: opts.tls ? ports.imaps : undefined,
    pop3sPort: opts.tls ? ports.pop3s : undefined,
    certificatePem,
    addUser(name, password) {
      writeUser(name, password);
    },
    async deliver(user, raws) {
      const maildir = path.join(dir, "mail", user);
      for (const sub of ["", "cur", "new", "tmp"]) {
        const d = path.join(maildir, sub);
        if (!fs.existsSync(d)) {
          fs.mkdirSync(d);
          fs.chownSync(d, ids.uid, ids.gid);
        }
      }
      const stamp = Math.floor(Date.now() / 1000);
      await Promise.all(
        raws.map(async (raw, i) => {
          const name = `${stamp}.M${i}P${process.pid}.mailroom-test,S=${raw.length}`;
          const tmp = path.join(maildir, "tmp", name);
          await fs.promises.writeFile(tmp, raw);
          await fs.promises.chown(tmp, ids.uid, ids.gid);
          await fs.promises.rename(tmp, path.join(maildir, "new", name));
        }),
      );
    },
    append(user, raw, flags = []) {
      return withClient(user, async (client) => {
        const res = await client.append("INBOX", raw, flags);
        if (!res || typeof res.uid !== "number") throw new Error("Dovecot: APPEND returned no UID");
        return res.uid;
      });
    },
    flags(user, folder = "INBOX") {
      return withClient(user, async (client) => {
        const out = new Map<number, string[]>();
        const box = await client.mailboxOpen(folder, { readOnly: true });
        if (box.exists === 0) return out;
        for (const msg of await client.fetchAll("1:*", { uid: true, flags: true })) {
          // \Recent only says which session saw the message first
          out.set(msg.uid, [...(msg.flags ?? [])].filter((f) => f !== "\\Recent").sort());
        }
        return out;
      });
    },
    count(user, folder = "INBOX") {
      return withClient(user, async (client) => {
        const status = await client.status(folder, { messages: true });
        return status ? (status.messages ?? 0) : 0;
      });
    },
    createFolder(user, folder) {
      return withClient(user, async (client) => {
        await client.mailboxCreate(folder);
      });
    },
    sources(user, folder = "INBOX") {
      return withClient(user, async (client) => {
        const out = new Map<number, Buffer>();
        const box = await client.mailboxOpen(folder, { readOnly: true });
        if (box.exists === 0) return out;
        for (const msg of await client.fetchAll("1:*", { uid: true, source: true })) {
          if (msg.source) out.set(msg.uid, msg.source);
        }
        return out;
      });
    },
    uidValidity(user) {
      return withClient(user, async (client) => {
        const box = await client.mailboxOpen("INBOX", { readOnly: true });
        return box.uidValidity.toString();
      });
    },
    sessions(user) {
      const master = masterPid;
      if (master === null) throw new Error("Dovecot is not running");
      return sessionPids(master, user);
    },
    async pauseSessions(user) {
      const master = masterPid;
      if (master === null) throw new Error("Dovecot is not running");
      const sessions = () => sessionPids(master, user);
      // a session process names its user in its title a moment after the login answered
      let paused = sessions();
      for (let tries = 0; paused.length === 0 && tries < 500; tries++) {
        await new Promise((r) => setTimeout(r, 20));
        paused = sessions();
      }
      if (paused.length === 0) throw new Error(`Dovecot: no session of ${user} to pause`);
      for (const pid of paused) process.kill(pid, "SIGSTOP");
      return () => {
        for (const pid of paused) {
          try {
            process.kill(pid, "SIGCONT");
          } catch {
            // ended meanwhile
          }
        }
      };
    },
    async restart() {
      await stopMaster();
      await start();
    },
    async stop() {
      await stopMaster();
      fs.rmSync(dir, { recursive: true, force: true });
    },
    makeUnreadable(user, marker) {
      const names: string[] = [];
      const maildir = path.join(dir, "mail", user);
      for (const sub of ["cur", "new"]) {
        const folder = path.join(maildir, sub);
        if (!fs.existsSync(folder)) continue;
        for (const name of fs.readdirSync(folder)) {
          const file = path.join(folder, name);
          if (!fs.readFileSync(file).includes(marker)) continue;
          fs.chmodSync(file, 0o000);
          names.push(name);
        }
      }
      return names;
    },
    maildirMessages(user) {
      const maildir = path.join(dir, "mail", user);
      return ["cur", "new"].flatMap((sub) => {
        const folder = path.join(maildir, sub);
        return fs.existsSync(folder) ? fs.readdirSync(folder).map((name) => fs.readFileSync(path.join(folder, name))) : [];
      });
    },
    async resetUidValidity(user) {
      await stopMaster();
      // Without its index and UID list Dovecot numbers the maildir anew, under a UIDVALIDITY
      // above the one it handed out before (it keeps that in dovecot-uidvalidity).
      const maildir = path.join(dir, "mail", user);
      for (const name of fs.readdirSync(maildir)) {
        if (name === "dovecot-uidlist" || name.startsWith("dovecot.index")) fs.rmSync(path.join(maildir, name), { force: true });
      }
      await start();
    },
    logText: readLog,
  };
  return dovecot;
}
