import { pino, type Logger, type DestinationStream } from "pino";

export type { Logger };

/** Paths whose values never reach a log line, whatever object they sit in. */
export const redactedPaths = [
  "password",
  "*.password",
  "clientSecret",
  "*.clientSecret",
  "token",
  "*.token",
  "accessToken",
  "*.accessToken",
  "secret",
  "*.secret",
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
  "headers.authorization",
  "headers.cookie",
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: { paths: redactedPaths, censor: "[redacted]" },
    base: { service: "mailroom" },
  };
  return destination ? pino(options, destination) : pino(options);
}
