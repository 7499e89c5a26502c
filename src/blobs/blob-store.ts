import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { chunks } from "../shared/chunks.js";

/**
 * Where raw messages and attachment bytes live. The default keeps them in the database, so a backup of
 * the database is a backup of the mail; another store (a directory, an object store) fits behind this.
 */
export interface BlobStore {
  /** writes inside the caller's transaction, so the bytes commit with the rows that point at them; under ids the caller chose with newId */
  putAll(trx: Kysely<Database>, blobs: { id: string; data: Buffer }[]): Promise<void>;
  get(id: string): Promise<Buffer | undefined>;
}

export class DatabaseBlobStore implements BlobStore {
  constructor(private readonly db: Kysely<Database>) {}

  async putAll(trx: Kysely<Database>, blobs: { id: string; data: Buffer }[]): Promise<void> {
    const rows = blobs.map(({ id, data }) => ({ id, data, size: data.length }));
    // a few rows a statement: the bytes travel as parameters, and a batch may hold megabytes of them
    for (const part of chunks(rows, 100)) await trx.insertInto("blobs").values(part).execute();
  }

  async get(id: string): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom("blobs").select("data").where("id", "=", id).executeTakeFirst();
    return row ? Buffer.from(row.data) : undefined;
  }
}
