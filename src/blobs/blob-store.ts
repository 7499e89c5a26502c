import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { newId } from "../shared/ids.js";

/**
 * Where raw messages and attachment bytes live. The default keeps them in the database, so a backup of
 * the database is a backup of the mail; another store (a directory, an object store) fits behind this.
 */
export interface BlobStore {
  /** writes inside the caller's transaction, so the bytes commit with the rows that point at them */
  put(trx: Kysely<Database>, data: Buffer): Promise<string>;
  /** several at once (one statement where the store can), answering their ids in order */
  putMany(trx: Kysely<Database>, data: Buffer[]): Promise<string[]>;
  get(id: string): Promise<Buffer | undefined>;
}

export class DatabaseBlobStore implements BlobStore {
  constructor(private readonly db: Kysely<Database>) {}

  async put(trx: Kysely<Database>, data: Buffer): Promise<string> {
    const id = newId();
    await trx.insertInto("blobs").values({ id, data, size: data.length }).execute();
    return id;
  }

  async putMany(trx: Kysely<Database>, data: Buffer[]): Promise<string[]> {
    const rows = data.map((bytes) => ({ id: newId(), data: bytes, size: bytes.length }));
    // a few rows a statement: the bytes travel as parameters, and a batch may hold megabytes of them
    for (let i = 0; i < rows.length; i += 100) await trx.insertInto("blobs").values(rows.slice(i, i + 100)).execute();
    return rows.map((r) => r.id);
  }

  async get(id: string): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom("blobs").select("data").where("id", "=", id).executeTakeFirst();
    return row ? Buffer.from(row.data) : undefined;
  }
}
