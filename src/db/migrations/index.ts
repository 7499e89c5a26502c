import type { Kysely } from "kysely";
import type { Dialect } from "../dialect.js";
import * as m0001 from "./0001-initial.js";
import * as m0002 from "./0002-case-insensitive-names.js";
import * as m0003 from "./0003-maildrop-source-keys.js";
import * as m0004 from "./0004-user-access.js";
import * as m0005 from "./0005-messages-and-interactions.js";
import * as m0006 from "./0006-routing-and-agents.js";
import * as m0007 from "./0007-outbox.js";
import * as m0008 from "./0008-oauth-verifications.js";
import * as m0009 from "./0009-nodes-and-leases.js";

export interface Migration {
  name: string;
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/** Forward-only, applied in this order; a released migration is never edited, only followed. */
export const migrations: Migration[] = [
  { name: "0001-initial", up: m0001.up },
  { name: "0002-case-insensitive-names", up: m0002.up },
  { name: "0003-maildrop-source-keys", up: m0003.up },
  { name: "0004-user-access", up: m0004.up },
  { name: "0005-messages-and-interactions", up: m0005.up },
  { name: "0006-routing-and-agents", up: m0006.up },
  { name: "0007-outbox", up: m0007.up },
  { name: "0008-oauth-verifications", up: m0008.up },
  { name: "0009-nodes-and-leases", up: m0009.up },
];
