import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createApp, type Services } from "./app.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { AppError } from "./errors.js";
import { SecretBox, loadSecretKey } from "./crypto/secret-box.js";
import { securePrivateDir } from "./data-dir.js";
import { migrate, openDatabase } from "./db/database.js";
import { systemActor } from "./features/audit/audit.service.js";
import { passwordSchema, roles, type Role } from "./features/users/users.schema.js";
import { createLogger, type Logger } from "./logger.js";

const usage = `Usage:
  mailroom start                      migrate the database and serve the API on MAILROOM_PORT
  mailroom migrate                    apply pending database migrations and exit
  mailroom users create --username NAME --role admin|supervisor|agent [--password PW]
                                      (without --password, the password is read from MAILROOM_NEW_USER_PASSWORD
                                       or generated and printed once)
  mailroom users disable --username NAME
                                      the user can no longer sign in; their sessions end
  mailroom users enable --username NAME
  mailroom users set-role --username NAME --role admin|supervisor|agent
                                      (the last enabled admin can be neither disabled nor given another role)
  mailroom users reset-password --username NAME [--password PW]
                                      sets a new password (as for users create) and ends the user's sessions`;

async function openStore(config: Config, log: Logger) {
  // the data dir holds the database and the secret key: private before either is opened, and so is
  // what is created in it later (SQLite's -wal and -shm, the key file)
  process.umask(0o077);
  securePrivateDir(config.dataDir, log);
  const db = openDatabase(config.database, (err) => log.warn({ err }, "a pooled database connection broke while idle; the next query opens a new one"), {
    // an open transaction of a paused node must not keep a mailbox from the others much past its lease
    idleInTransactionMs: Math.max(2_000, (config.node.leaseSeconds * 1000) / 2),
  });
  const applied = await migrate(db);
  if (applied.length > 0) log.info({ applied, dialect: db.dialect }, "database migrated");
  return db;
}

async function start(config: Config, log: Logger): Promise<void> {
  const db = await openStore(config, log);
  const secretBox = new SecretBox(loadSecretKey(config.secretKey, config.dataDir, log));
  const app = await createApp({ config, db, log, secretBox });
  const admin = await app.bootstrapAdmin();
  if (admin.generatedPassword) {
    // printed once, on purpose outside the structured log so that it is not shipped to log storage
    process.stdout.write(
      `\nFirst start: created user "admin" with password ${admin.generatedPassword}\n` +
        `Sign in and create your own users; set MAILROOM_ADMIN_PASSWORD to choose it yourself next time.\n\n`,
    );
  } else if (admin.created) {
    log.info("created the first admin user with the password from MAILROOM_ADMIN_PASSWORD");
  }
  await app.start();
  await app.http.listen({ port: config.port, host: config.host });
  // the handlers come before the ready line: whoever reads that line may signal at once
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    app
      .close()
      .then(() => db.close())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, "error while stopping");
        process.exit(1);
      });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  const shownHost = ["0.0.0.0", "::", "127.0.0.1", "::1"].includes(config.host) ? "localhost" : config.host;
  process.stdout.write(`Mailroom is ready: open http://${shownHost}:${config.port}/ in a browser and sign in.\n`);
  if (!fs.existsSync(path.join(config.webDir, "index.html"))) {
    log.warn({ webDir: config.webDir }, "the web app is not built, so / shows how to build it: run `npm run build`");
  }
}

/** Runs `fn` with the services of a Mailroom that starts no runners, on the configured database. */
async function withServices<T>(config: Config, log: Logger, fn: (services: Services) => Promise<T>): Promise<T> {
  const db = await openStore(config, log);
  try {
    const secretBox = new SecretBox(loadSecretKey(config.secretKey, config.dataDir, log));
    const app = await createApp({ config: { ...config, runnersEnabled: false }, db, log, secretBox });
    try {
      return await fn(app.services);
    } finally {
      await app.close();
    }
  } finally {
    await db.close();
  }
}

/** The password given (--password, else MAILROOM_NEW_USER_PASSWORD), or a generated one to print once. */
function chosenPassword(given: string | undefined, config: Config): { password: string; generated: string | undefined } {
  const chosen = given ?? config.newUserPassword;
  if (chosen !== undefined) return { password: chosen, generated: undefined };
  const generated = randomBytes(12).toString("base64url");
  return { password: generated, generated };
}

async function createUser(config: Config, log: Logger, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { username: { type: "string" }, role: { type: "string" }, password: { type: "string" }, "display-name": { type: "string" } },
  });
  const { username } = values;
  if (!username || !values.role || !roles.includes(values.role as Role)) {
    throw new ConfigError(`users create needs --username and --role (${roles.join(", ")}).\n${usage}`);
  }
  const { password, generated } = chosenPassword(values.password, config);
  await withServices(config, log, async ({ users }) => {
    const user = await users.create(systemActor, {
      username,
      password,
      role: values.role as Role,
      displayName: values["display-name"],
    });
    process.stdout.write(`created user ${user.username} (${user.role})${generated ? ` with password ${generated}` : ""}\n`);
  });
}

type UserCommand = "disable" | "enable" | "set-role" | "reset-password";
const userCommands: readonly string[] = ["disable", "enable", "set-role", "reset-password"] satisfies UserCommand[];

/** Changes an existing user through the same rules as the API, audited as the system actor. */
async function changeUser(config: Config, log: Logger, command: UserCommand, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { username: { type: "string" }, role: { type: "string" }, password: { type: "string" } } });
  const { username } = values;
  if (!username) throw new ConfigError(`users ${command} needs --username.\n${usage}`);
  if (command === "set-role" && !roles.includes(values.role as Role)) {
    throw new ConfigError(`users set-role needs --role (${roles.join(", ")}).\n${usage}`);
  }
  await withServices(config, log, async ({ users }) => {
    const user = await users.store.byUsername(username);
    if (!user) throw new ConfigError(`There is no user named "${username}".`);
    if (command === "reset-password") {
      const { password, generated } = chosenPassword(values.password, config);
      const checked = passwordSchema.safeParse(password);
      if (!checked.success) throw new ConfigError(checked.error.issues.map((i) => i.message).join("; "));
      await users.resetPassword(systemActor, user.id, checked.data);
      process.stdout.write(`set a new password for ${user.username}${generated ? `: ${generated}` : ""}; their sessions ended\n`);
    } else if (command === "set-role") {
      const changed = await users.update(systemActor, user.id, { role: values.role as Role });
      process.stdout.write(`${changed.username} is now ${changed.role}\n`);
    } else {
      const changed = await users.update(systemActor, user.id, { disabled: command === "disable" });
      process.stdout.write(`${changed.username} is ${changed.disabled ? "disabled; their sessions ended" : "enabled"}\n`);
    }
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  switch (command) {
    case "start":
    case undefined:
      return start(config, log);
    case "migrate": {
      const db = await openStore(config, log);
      await db.close();
      process.stdout.write("database is up to date\n");
      return;
    }
    case "users":
      if (sub === "create") return createUser(config, log, rest);
      if (sub !== undefined && userCommands.includes(sub)) return changeUser(config, log, sub as UserCommand, rest);
      break;
    case "help":
    case "--help":
      process.stdout.write(usage + "\n");
      return;
  }
  throw new ConfigError(`Unknown command "${argv.join(" ")}".\n${usage}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(err.message + "\n");
    process.exit(2);
  }
  // a rule said no (the last enabled admin, a password too short): the reason, without a stack
  if (err instanceof AppError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`mailroom failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
