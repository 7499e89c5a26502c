import { parseMail } from "./parse-mail.js";
import { serveParseRequests } from "./parser-protocol.js";

/** Entry point of a parse worker process (see parser-pool.ts). */
serveParseRequests(parseMail);
