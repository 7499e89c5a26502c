import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { createApp } from "./app.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { SecretBox, loadSecretKey } from "./crypto/secret-box.js";
import { migrate, openDatabase } from "./db/database.js";
import { systemActor } from "./features/audit/audit.service.js";
import { roles, type Role } from "./features/users/users.schema.js";
import { createLogger, type Logger } from "./logger.js";

const usage = `Usage:
  mailroom start                      migrate the database and serve the API on MAILROOM_PORT
  mailroom migrate                    apply pending database migrations and exit
  mailroom users create --username NAME --role admin|supervisor|agent [--password PW]
                                      (without --password, the password is read from MAILROOM_NEW_USER_PASSWORD
                                       or generated and printed once)`;

async function openStore(config: Config, log: Logger) {
  const db = openDatabase(config.database, (err) => log.warn({ err }, "a pooled database connection broke while idle; the next query opens a new one"));
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
}

async function createUser(config: Config, log: Logger, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { username: { type: "string" }, role: { type: "string" }, password: { type: "string" }, "display-name": { type: "string" } },
  });
  if (!values.username || !values.role || !roles.includes(values.role as Role)) {
    throw new ConfigError(`users create needs --username and --role (${roles.join(", ")}).\n${usage}`);
  }
  const db = await openStore(config, log);
  try {
    const secretBox = new SecretBox(loadSecretKey(config.secretKey, config.dataDir, log));
    const app = await createApp({ config: { ...config, runnersEnabled: false }, db, log, secretBox });
    const given = values.password ?? config.newUserPassword;
    const generated = given === undefined ? randomBytes(12).toString("base64url") : undefined;
    const password = given ?? generated!;
    const user = await app.services.users.create(systemActor, {
      username: values.username,
      password,
      role: values.role as Role,
      displayName: values["display-name"],
    });
    process.stdout.write(`created user ${user.username} (${user.role})${generated ? ` with password ${generated}` : ""}\n`);
    await app.close();
  } finally {
    await db.close();
  }
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
  process.stderr.write(`mailroom failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
