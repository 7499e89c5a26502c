import { Worker } from "node:worker_threads";
import {
  CompiledQuery,
  SelectQueryNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from "kysely";
import { Semaphore } from "../shared/semaphore.js";
import { batchResult, endsTransaction, isStatementBatch, statementsOf } from "./statement-batch.js";
import type { SqliteReply, SqliteRequest, SqliteResult, SqliteStatement, SqliteThreadOptions } from "./sqlite-thread-protocol.js";
import { asBuffer } from "../shared/bytes.js";

export interface ThreadedSqliteOptions {
  file: string;
  /** run once, in order, on each connection as it opens (WAL mode, synchronous, busy_timeout) */
  pragmas: string[];
  /** how long after a commit the WAL is checkpointed (see Checkpoints); 200 ms unless set */
  checkpointDelayMs?: number;
}

/**
 * SQLite on threads of its own. better-sqlite3 is synchronous: on the server's thread every statement
 * and every commit's wait for the disk (synchronous = FULL) stopped everything else — IMAP, the parse
 * workers' next batch, the API — for tens of milliseconds at a time (bench:ingest: a third of a
 * backlog drain). Here a writer thread holds the connection that writes, one transaction at a time as
 * before, and a reader thread holds a second, read-only connection for queries outside transactions:
 * in WAL mode it reads the last committed state while a write is under way, so the API answers while a
 * backlog is being stored. A third connection, on a thread of its own, checkpoints the WAL.
 */
export function threadedSqliteDialect(options: ThreadedSqliteOptions): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new ThreadedSqliteDriver(options),
    createIntrospector: (db: Kysely<unknown>) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}

/**
 * Under tsx and vitest the thread's entry is TypeScript. On Node 20 tsx installs its loader only on the
 * main thread, so a small bootstrap registers it inside the thread before importing the entry. The
 * compiled `dist/` entry is plain JavaScript.
 */
function entry(): URL {
  const typescript = import.meta.url.endsWith(".ts");
  const url = new URL(`./sqlite-thread-worker${typescript ? ".ts" : ".js"}`, import.meta.url);
  if (!typescript) return url;
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(url.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

class ThreadedSqliteDriver implements Driver {
  #writer: SqliteThread | null = null;
  #reader: SqliteThread | null = null;
  #checkpointer: SqliteThread | null = null;
  #checkpoints: Checkpoints | null = null;
  /** hands the writer to one user at a time: a transaction, or a single write outside one */
  readonly #lock = new Semaphore(1);

  constructor(private readonly options: ThreadedSqliteOptions) {}

  async init(): Promise<void> {
    const { file, pragmas } = this.options;
    // the writer first: it sets WAL mode, which the other connections then find
    this.#writer = await SqliteThread.start({ file, pragmas: [...pragmas, "wal_autocheckpoint = 0"], readonly: false });
    this.#reader = await SqliteThread.start({ file, pragmas: ["busy_timeout = 5000"], readonly: true });
    // the writer's synchronous setting too: a checkpoint syncs the WAL before it copies it, and the database after
    this.#checkpointer = await SqliteThread.start({ file, pragmas, readonly: false });
    this.#checkpoints = new Checkpoints(this.#checkpointer, this.#writer, this.options.checkpointDelayMs ?? 200);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const checkpoints = this.#checkpoints!;
    return new Session(this.#writer!, this.#reader!, this.#lock, () => checkpoints.written());
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as Session).begin();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as Session).end("commit");
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as Session).end("rollback");
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as Session).release();
  }

  async destroy(): Promise<void> {
    await this.#checkpoints?.close();
    // the writer last: the last connection to close checkpoints what is left and removes the WAL
    const threads = [this.#checkpointer, this.#reader, this.#writer];
    this.#writer = this.#reader = this.#checkpointer = null;
    this.#checkpoints = null;
    for (const thread of threads) await thread?.close();
  }
}

/**
 * The WAL's checkpoints, on a connection of their own. A commit that finds the WAL past
 * wal_autocheckpoint copies the WAL into the database itself, before it returns: in a backlog every few
 * commits took that much longer and held the writer from everyone else meanwhile, new mail of other
 * mailboxes included (bench:ingest, fairness: the writer's COMMIT p90 25 ms with them, 15 ms without).
 * Here the writer never checkpoints; a PASSIVE checkpoint runs `delayMs` after a commit, on its own
 * thread, while the writer goes on. PASSIVE waits for nobody: what a reader still reads stays in the
 * WAL for the next checkpoint.
 */
class Checkpoints {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  /** a commit since the last checkpoint began */
  #written = false;
  #closed = false;

  constructor(
    private readonly thread: SqliteThread,
    private readonly writer: SqliteThread,
    private readonly delayMs: number,
  ) {}

  /** A commit happened: a checkpoint follows, one at a time. */
  written(): void {
    this.#written = true;
    if (this.#closed || this.#timer !== null || this.#running !== null) return;
    this.#timer = setTimeout(() => this.#checkpoint(), this.delayMs);
    this.#timer.unref();
  }

  #checkpoint(): void {
    this.#timer = null;
    this.#written = false;
    this.#running = this.thread
      .run([{ sql: "pragma wal_checkpoint(PASSIVE)", parameters: [] }])
      .then(
        () => undefined,
        () => (this.thread.failed ? this.#writerCheckpointsAgain() : undefined),
      )
      .finally(() => {
        this.#running = null;
        if (this.#written) this.written();
      });
  }

  /** The checkpointer's thread ended: the writer checkpoints in its commits again, as SQLite does by default. */
  async #writerCheckpointsAgain(): Promise<void> {
    this.#closed = true;
    await this.writer.run([{ sql: "pragma wal_autocheckpoint = 1000", parameters: [] }]).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}

/**
 * What Kysely calls a connection: one use of the database, a transaction or a single statement. A
 * transaction and every write hold the writer's lock; a query outside a transaction goes to the reader.
 * BEGIN travels with the transaction's first statement rather than on its own (SQLite's BEGIN is
 * deferred: it takes no lock until that statement runs anyway), a statement batch
 * (`statement-batch.ts`) is one request, and COMMIT travels with a transaction's last batch.
 */
class Session implements DatabaseConnection {
  #release: (() => void) | null = null;
  #beginPending = false;
  /** the transaction's last batch committed it */
  #committed = false;

  constructor(
    private readonly writer: SqliteThread,
    private readonly reader: SqliteThread,
    private readonly lock: Semaphore,
    /** a write was committed */
    private readonly committed: () => void,
  ) {}

  async begin(): Promise<void> {
    this.#release = await this.lock.acquire();
    this.#beginPending = true;
  }

  async end(command: "commit" | "rollback"): Promise<void> {
    try {
      // a transaction that ran no statement never began; one committed with its last batch is over (a
      // failure after that batch, which the caller still hears of, has nothing left to roll back)
      if (!this.#beginPending && !this.#committed) {
        await this.writer.run([statement(CompiledQuery.raw(command))]);
        if (command === "commit") this.committed();
      }
    } finally {
      this.#beginPending = false;
      this.#committed = false;
      this.release();
    }
  }

  release(): void {
    const release = this.#release;
    this.#release = null;
    release?.();
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const batch = isStatementBatch(compiledQuery);
    const statements = (batch ? statementsOf(compiledQuery) : [compiledQuery]).map(statement);
    const answer = (results: SqliteResult[]) => (batch ? batchResult(results.map(toQueryResult)) : toQueryResult(results[0]!)) as QueryResult<R>;
    if (this.#release) {
      if (this.#committed) throw new Error("a statement after the transaction's last statements: it was committed with them");
      const begin = this.#beginPending ? [statement(CompiledQuery.raw("begin"))] : [];
      // a failed statement stops the request before the commit: the transaction rolls back as usual
      const commit = batch && endsTransaction(compiledQuery) ? [statement(CompiledQuery.raw("commit"))] : [];
      this.#beginPending = false;
      const results = await this.writer.run([...begin, ...statements, ...commit]);
      if (commit.length) {
        this.#committed = true;
        this.committed();
      }
      return answer(results.slice(begin.length, begin.length + statements.length));
    }
    if (!batch && SelectQueryNode.is(compiledQuery.query)) return answer(await this.reader.run(statements));
    const release = await this.lock.acquire();
    try {
      const results = await this.writer.run(statements);
      this.committed();
      return answer(results);
    } finally {
      release();
    }
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("Mailroom does not stream SQLite queries");
  }
}

function statement(query: CompiledQuery): SqliteStatement {
  return { sql: query.sql, parameters: query.parameters };
}

/**
 * Bytes travel to the thread moved, not copied: each is copied once into memory of its own, which the
 * message then hands over. Cloned, a Buffer was copied twice (into the message and out of it), and a
 * Buffer that is a view (a small one shares an 8 KB slab; an attachment from a parse worker is a view
 * of the worker's whole answer) carried all the memory it views with it. A batch of 50 messages holds
 * megabytes of them.
 */
function movable(statements: SqliteStatement[]): { statements: SqliteStatement[]; moved: ArrayBuffer[] } {
  const moved: ArrayBuffer[] = [];
  const own = (value: unknown): unknown => {
    if (!(value instanceof Uint8Array)) return value;
    const copy = new Uint8Array(value);
    moved.push(copy.buffer);
    return copy;
  };
  return { statements: statements.map((s) => ({ sql: s.sql, parameters: s.parameters.map(own) })), moved };
}

function toQueryResult(result: SqliteResult): QueryResult<unknown> {
  const rows = result.rows.map(withBuffers);
  if (result.changes === undefined) return { rows };
  return { rows, numAffectedRows: BigInt(result.changes), insertId: BigInt(result.lastInsertRowid ?? 0) };
}

/** One thread with one better-sqlite3 connection, answering statements in the order they come. */
class SqliteThread {
  readonly #pending = new Map<number, { resolve(reply: SqliteReply): void; reject(err: Error): void }>();
  #nextId = 1;
  #failure: Error | null = null;
  readonly #exited: Promise<void>;

  private constructor(private readonly worker: Worker) {
    this.#exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  }

  static async start(options: SqliteThreadOptions): Promise<SqliteThread> {
    const worker = new Worker(entry(), { workerData: options });
    const thread = new SqliteThread(worker);
    await new Promise<void>((resolve, reject) => {
      worker.on("message", (message: SqliteReply | { ready: true }) => {
        if ("ready" in message) return resolve();
        const waiter = thread.#pending.get(message.id);
        thread.#pending.delete(message.id);
        waiter?.resolve(message);
      });
      const fail = (err: Error) => {
        thread.#failure ??= err;
        reject(err);
        for (const waiter of thread.#pending.values()) waiter.reject(err);
        thread.#pending.clear();
      };
      worker.on("error", fail);
      worker.on("exit", (code) => fail(new Error(`the SQLite thread ended (exit code ${code})`)));
    });
    return thread;
  }

  /** the thread ended: every request fails */
  get failed(): boolean {
    return this.#failure !== null;
  }

  /** Runs the statements in order as one request; answers each one's result, or throws the first failure. */
  async run(statements: SqliteStatement[]): Promise<SqliteResult[]> {
    if (this.#failure) throw this.#failure;
    const { statements: own, moved } = movable(statements);
    const request: SqliteRequest = { id: this.#nextId++, statements: own };
    const reply = await new Promise<SqliteReply>((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      this.worker.postMessage(request, moved);
    });
    if ("error" in reply) {
      // the driver's own error shape, so that constraint-errors.ts reads it as it reads better-sqlite3's
      throw Object.assign(new Error(reply.error.message), { name: reply.error.name, code: reply.error.code });
    }
    return reply.results;
  }

  async close(): Promise<void> {
    if (!this.#failure) this.worker.postMessage({ close: true });
    await this.#exited;
  }
}

/** BLOB columns come back from the thread as Uint8Arrays; the rest of Mailroom expects Buffers. */
function withBuffers(row: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(row)) {
    if (value instanceof Uint8Array) row[key] = asBuffer(value);
  }
  return row;
}
