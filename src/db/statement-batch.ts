import {
  CompiledQuery,
  type Compilable,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  type TransactionSettings,
} from "kysely";

/**
 * Several statements handed to the database as one request, run in order, each with its own result.
 *
 * Kysely runs a transaction's statements one at a time, each a round trip: on SQLite a message to the
 * database thread and its answer, each waiting for the server's thread to be free, while the
 * transaction holds the one writer. A batch of 50 messages was ten such round trips; as one request
 * each, the transaction is over sooner and the next mailbox's commit (new mail, say) waits less.
 * The SQLite thread runs a batch as it comes (`sqlite-thread.ts`); on PostgreSQL
 * `unrollingStatementBatches` sends the statements one by one on the transaction's connection, as
 * before.
 *
 * A batch stops at the first statement that fails, and the error is that statement's. Use it inside a
 * transaction, which then rolls back: outside one, the statements before the failing one stay done.
 */

const marker = "-- mailroom: statements in one request";
const lastMarker = "-- mailroom: a transaction's last statements in one request";

/** One query that carries the statements of a batch to a driver that knows it. */
function batchQuery(statements: CompiledQuery[], last: boolean): CompiledQuery<QueryResult<unknown>> {
  return CompiledQuery.raw(last ? lastMarker : marker, statements);
}

export function isStatementBatch(query: CompiledQuery): boolean {
  return query.sql === marker || query.sql === lastMarker;
}

/** The batch is its transaction's last: a driver may commit the transaction in the same request. */
export function endsTransaction(query: CompiledQuery): boolean {
  return query.sql === lastMarker;
}

export function statementsOf(query: CompiledQuery): CompiledQuery[] {
  return query.parameters as CompiledQuery[];
}

/** The results of a batch, in the order of its statements, as the one query's rows. */
export function batchResult(results: QueryResult<unknown>[]): QueryResult<QueryResult<unknown>> {
  return { rows: results };
}

/** A Kysely instance or transaction: what runs a compiled query. */
interface QueryRunner {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

/**
 * Runs the statements as one request; answers each one's result. `last`: nothing else runs in the
 * transaction after them, so the driver may commit it with them. SQLite's thread does (a commit was a
 * round trip of its own to the thread, which waited for the server's thread twice more while the
 * transaction held the one writer); Kysely's commit then has nothing left to do. On PostgreSQL the
 * commit comes as usual.
 */
export async function executeStatements(db: QueryRunner, statements: Compilable[], options: { last?: boolean } = {}): Promise<QueryResult<unknown>[]> {
  if (statements.length === 0) return [];
  const { rows } = await db.executeQuery(batchQuery(statements.map((s) => s.compile()), options.last ?? false));
  return rows;
}

/** What a read needs the database for, and what it makes of the answers. */
export interface Reading<T> {
  statements: Compilable[];
  result(results: QueryResult<unknown>[]): T;
}

/** Several readings in one request. */
export async function executeReadings<T extends unknown[]>(db: QueryRunner, readings: { [K in keyof T]: Reading<T[K]> }): Promise<T> {
  const results = await executeStatements(
    db,
    readings.flatMap((r) => r.statements),
  );
  let at = 0;
  return readings.map((reading) => {
    const own = results.slice(at, at + reading.statements.length);
    at += reading.statements.length;
    return reading.result(own);
  }) as T;
}

/**
 * A dialect whose connections run a statement batch one statement at a time: for drivers that do not
 * know batches (Kysely's PostgreSQL driver). The rest is the dialect's own.
 */
export function unrollingStatementBatches(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new UnrollingDriver(dialect.createDriver()),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}

class UnrollingConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (!isStatementBatch(query)) return this.inner.executeQuery<R>(query);
    const results: QueryResult<unknown>[] = [];
    for (const statement of statementsOf(query)) results.push(await this.inner.executeQuery(statement));
    return batchResult(results) as QueryResult<R>;
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

const inner = (connection: DatabaseConnection) => (connection as UnrollingConnection).inner;

class UnrollingDriver implements Driver {
  constructor(private readonly driver: Driver) {}

  init(): Promise<void> {
    return this.driver.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new UnrollingConnection(await this.driver.acquireConnection());
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.driver.beginTransaction(inner(connection), settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver.commitTransaction(inner(connection));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver.rollbackTransaction(inner(connection));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(inner(connection));
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }
}
