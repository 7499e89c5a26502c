import type { Kysely } from "kysely";
import type { Dialect } from "../database.js";
import * as m0001 from "./0001-initial.js";

export interface Migration {
  name: string;
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/** Forward-only, applied in this order; a released migration is never edited, only followed. */
export const migrations: Migration[] = [{ name: "0001-initial", up: m0001.up }];
