// One Postgres database per service, reached through drizzle on the
// postgres.js driver.
//
//   const db = await openDatabase({ url: config.DATABASE_URL, schema, createIfMissing: true });
//   await migrate(db, new URL("../drizzle", import.meta.url).pathname);
import postgres from "postgres";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";

export type Sql = postgres.Sql;

/** A drizzle database on a postgres.js pool (`db.$client` is the pool). */
export type Database<TSchema extends Record<string, unknown> = Record<string, unknown>> =
  PostgresJsDatabase<TSchema> & { $client: Sql };

export interface OpenDatabaseOptions<TSchema extends Record<string, unknown>> {
  /** `postgres://user@host:port/dbname`. */
  url: string;
  /** The service's drizzle schema, for `db.query.*`. */
  schema?: TSchema;
  /** Pool size; default 10. */
  max?: number;
  /** Create the database first if it does not exist (see ensureDatabase). */
  createIfMissing?: boolean;
  /** Database to connect to for CREATE DATABASE; default "postgres". */
  adminDatabase?: string;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** Wraps the postgres.js client drizzle uses (query spans, see telemetry/db-query-spans.ts). */
  instrument?: (client: Sql) => Sql;
}

// The URL each database was opened with: migrate() opens its own dedicated
// connection to the same database.
const urls = new WeakMap<object, string>();

export async function openDatabase<TSchema extends Record<string, unknown> = Record<string, unknown>>(
  options: OpenDatabaseOptions<TSchema>,
): Promise<Database<TSchema>> {
  if (options.createIfMissing) {
    await ensureDatabase(options.url, { adminDatabase: options.adminDatabase });
  }
  const raw = preparingEveryStatement(
    postgres(options.url, clientOptions({ max: options.max ?? 10, applicationName: options.applicationName })),
  );
  const client = options.instrument ? options.instrument(raw) : raw;
  const db = drizzle({ client, schema: options.schema ?? ({} as TSchema) }) as Database<TSchema>;
  urls.set(db, options.url);
  return db;
}

/**
 * `client` with every `unsafe(text, params, options)` call handed to `send`
 * instead. drizzle sends every statement through `unsafe`, and transactions
 * through `begin`/`savepoint`, whose transaction client is intercepted the
 * same way; everything else (sql``, listen, end) passes through.
 */
export function interceptStatements(
  client: Sql,
  send: (unsafe: (text: string, ...rest: unknown[]) => unknown, text: string, rest: unknown[]) => unknown,
): Sql {
  const wrap = (sql: Sql): Sql =>
    new Proxy(sql, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop === "unsafe") {
          const unsafe = (value as (...a: unknown[]) => unknown).bind(target);
          return (text: string, ...rest: unknown[]) => send(unsafe, text, rest);
        }
        if (prop === "begin" || prop === "savepoint") {
          // begin(fn) / begin(options, fn): hand fn the intercepted transaction client.
          return (...args: unknown[]) => {
            const fn = args.at(-1) as (tx: Sql) => unknown;
            return (value as (...a: unknown[]) => unknown).call(target, ...args.slice(0, -1), (tx: Sql) =>
              fn(wrap(tx)),
            );
          };
        }
        return value;
      },
    });
  return wrap(client);
}

/**
 * `build(db)` once per database, e.g. a drizzle query built with
 * `.prepare(name)` that hot paths execute with placeholders instead of
 * building the same SQL on every call.
 */
export function oncePerDatabase<D extends object, T>(build: (db: D) => T): (db: D) => T {
  const built = new WeakMap<D, T>();
  return (db) => {
    let value = built.get(db);
    if (value === undefined) built.set(db, (value = build(db)));
    return value;
  };
}

/**
 * Makes each parameterised statement drizzle sends a named prepared statement
 * of its connection (postgres.js keeps them per connection, keyed by text).
 * drizzle asks for an unnamed one unless the query was built with
 * `.prepare(name)`, and for an unnamed statement with parameters postgres.js
 * first sends Parse + Describe and waits for the answer before it binds: two
 * round trips, and Postgres parses and plans the text every time. Prepared,
 * a statement is one Bind/Execute round trip planned once per connection.
 * Safe because no statement text here carries values (they are always
 * parameters), so the number of distinct statements stays the number of
 * query shapes in the code.
 */
export function preparingEveryStatement(client: Sql): Sql {
  return interceptStatements(client, (unsafe, text, rest) => {
    // unsafe(text), unsafe(text, params), unsafe(text, params, options), unsafe(text, options)
    const [params, options] = Array.isArray(rest[0]) ? rest : [[], rest[0]];
    return unsafe(text, params, { ...(options as object | undefined), prepare: true });
  });
}

/** The URL a database was opened with by openDatabase(), if it was. */
export function databaseUrlOf(db: object): string | undefined {
  return urls.get(db);
}

/** Closes the pool, letting running queries finish for up to `timeoutSeconds`. */
export async function closeDatabase(db: { $client: Sql }, timeoutSeconds = 5): Promise<void> {
  await db.$client.end({ timeout: timeoutSeconds });
}

/** postgres.js options shared by every client the runtime opens. */
export function clientOptions(
  options: { max?: number; applicationName?: string } = {},
): postgres.Options<Record<string, never>> {
  return {
    max: options.max ?? 10,
    // "relation already exists, skipping" and friends from IF NOT EXISTS DDL:
    // not worth a line on stdout.
    onnotice: () => {},
    ...(options.applicationName ? { connection: { application_name: options.applicationName } } : {}),
  };
}

/** `url` with its database name replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The database name in a `postgres://` URL. */
export function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
  if (!name) throw new Error(`database URL has no database name: ${redact(url)}`);
  return name;
}

/**
 * Creates the database named in `url` if it does not exist, connecting to the
 * admin database on the same server. Safe when several processes do it at
 * once: losing the race (duplicate_database, or the unique violation on
 * pg_database that concurrent CREATE DATABASE can raise) counts as success.
 * Returns true if this call created it.
 */
export async function ensureDatabase(
  url: string,
  options: { adminDatabase?: string | undefined } = {},
): Promise<boolean> {
  const name = databaseNameOf(url);
  const admin = postgres(withDatabase(url, options.adminDatabase ?? "postgres"), clientOptions({ max: 1 }));
  try {
    const existing = await admin`select 1 from pg_database where datname = ${name}`;
    if (existing.length > 0) return false;
    try {
      await admin`create database ${admin(name)}`;
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "42P04" || code === "23505") return false;
      throw error;
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** Drops the database named in `url` (tests; disconnects other sessions). */
export async function dropDatabase(url: string, options: { adminDatabase?: string } = {}): Promise<void> {
  const name = databaseNameOf(url);
  const admin = postgres(withDatabase(url, options.adminDatabase ?? "postgres"), clientOptions({ max: 1 }));
  try {
    await admin`drop database if exists ${admin(name)} with (force)`;
  } finally {
    await admin.end({ timeout: 5 });
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}

/** The transaction object `db.transaction(async (tx) => ...)` passes. */
export type Transaction<TSchema extends Record<string, unknown> = Record<string, unknown>> = Parameters<
  Parameters<Database<TSchema>["transaction"]>[0]
>[0];
