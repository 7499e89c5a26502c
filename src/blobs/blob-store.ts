import type { Compilable, Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { chunks } from "../shared/chunks.js";

/**
 * Where raw messages and attachment bytes live. The default keeps them in the database, so a backup of
 * the database is a backup of the mail; another store (a directory, an object store) fits behind this.
 */
export interface BlobStore {
  /**
   * The statements that store the bytes under ids the caller chose with newId, for the caller to run in
   * its transaction, so that the bytes commit with the rows that point at them. (A store that keeps
   * bytes outside the database would write them first and answer what the database records of them.)
   */
  inserts(trx: Kysely<Database>, blobs: { id: string; data: Buffer }[]): Compilable[];
  get(id: string): Promise<Buffer | undefined>;
  /** Several at once, by id; an id that is not there is missing from the answer. */
  getMany(ids: string[]): Promise<Map<string, Buffer>>;
}

export class DatabaseBlobStore implements BlobStore {
  constructor(private readonly db: Kysely<Database>) {}

  inserts(trx: Kysely<Database>, blobs: { id: string; data: Buffer }[]): Compilable[] {
    const rows = blobs.map(({ id, data }) => ({ id, data, size: data.length }));
    // a few rows a statement: the bytes travel as parameters, and a batch may hold megabytes of them
    return chunks(rows, 100).map((part) => trx.insertInto("blobs").values(part));
  }

  async get(id: string): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom("blobs").select("data").where("id", "=", id).executeTakeFirst();
    return row ? Buffer.from(row.data) : undefined;
  }

  async getMany(ids: string[]): Promise<Map<string, Buffer>> {
    const found = new Map<string, Buffer>();
    for (const part of chunks([...new Set(ids)], 100)) {
      for (const row of await this.db.selectFrom("blobs").select(["id", "data"]).where("id", "in", part).execute()) found.set(row.id, Buffer.from(row.data));
    }
    return found;
  }
}
