// runService: what turns a manifest plus domain code into a running service.
//
//   await runService({
//     manifest,
//     migrations: new URL("../drizzle", import.meta.url),
//     setup: ({ db, outbox, clients }) => ({
//       services: [implement(CatalogService, catalogService(db, outbox))],
//       subscriptions: [...],
//     }),
//   });
//
// In order: validated configuration, logger, the service's database (created
// if missing, migrated under an advisory lock), NATS JetStream with the
// streams it publishes to and consumes from, typed clients for its declared
// dependencies, access-token verification, the domain's setup, the outbox
// relay, the event consumers and background tasks (on the release track that
// consumes), the RPC server with health and reflection, and
// the metrics endpoint. Telemetry (telemetry/*) is wired through all of them:
// server and client spans and RPC metrics, publish and process spans for
// events, query spans, event backlog gauges.
// SIGTERM/SIGINT stop it all in reverse order and exit 0.
import type { DescMessage } from "@bufbuild/protobuf";
import { DeadLetterService } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import type { Interceptor } from "@connectrpc/connect";
import { pino, type DestinationStream } from "pino";
import { z } from "zod";
import { closeDependencyClients, createDependencyClients, type DependencyClients } from "./clients.ts";
import { env, loadConfig, withoutCredentials } from "./config.ts";
import { closeDatabase, databaseNameOf, openDatabase, type Database } from "./db/database.ts";
import { migrate } from "./db/migrate.ts";
import { deadLetterService } from "./dead-letter-service.ts";
import { DEFAULT_NATS_URL, EventBus } from "./events/bus.ts";
import { EventConsumer, type EventMeta, type Subscription } from "./events/consumer.ts";
import { EventNaming, STREAM_PREFIX, SUBJECT_PREFIX } from "./events/naming.ts";
import { createOutbox, type Outbox } from "./events/outbox.ts";
import { OutboxRelay } from "./events/relay.ts";
import { followReleaseTrack } from "./release-track.ts";
import type { Authenticate } from "./interceptors/auth.ts";
import { createLogger, type Logger } from "./log.ts";
import type { ConsumedBy, PublishedBy, ServiceManifest } from "./manifest.ts";
import { implement, startServer, type RunningServer, type ServerOptions, type ServiceRegistration } from "./server.ts";
import { DEFAULT_READ_MAX_BYTES } from "./rpc-handler.ts";
import { tolerateDriverFaults } from "./process-guards.ts";
import { handleSignals, type StopFn } from "./shutdown.ts";
import {
  STARTUP_PROBLEM_EXIT_CODE,
  STARTUP_PROBLEM_PREFIX,
  startupProblemLines,
  startupWaitMs,
  waitForDependency,
} from "./startup.ts";
import { DEFAULT_HEARTBEAT_MS } from "./stream-heartbeats.ts";
import { withQuerySpans, type DatabaseTarget } from "./telemetry/db-query-spans.ts";
import { consumerBacklogMetrics, outboxBacklogMetrics } from "./telemetry/event-backlog-metrics.ts";
import { eventProcessTelemetry } from "./telemetry/event-process-telemetry.ts";
import { eventPublishTelemetry } from "./telemetry/event-publish-telemetry.ts";
import { rpcClientTelemetry } from "./telemetry/rpc-client-telemetry.ts";
import { ServiceTelemetry, type TelemetryMode } from "./telemetry/service-telemetry.ts";
import { telemetrySettings } from "./telemetry/settings.ts";
import type { TokenSettings } from "./tokens.ts";

/** What every service reads from its environment. */
const baseConfigSchema = (manifest: ServiceManifest) =>
  z.object({
    PORT: env.port(manifest.port),
    HOST: env.string("127.0.0.1"),
    LOG_LEVEL: env.oneOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"], "info"),
    DATABASE_URL: manifest.database ? env.url() : env.url("postgres://unused/unused"),
    NATS_URL: env.url(DEFAULT_NATS_URL),
    /** Event naming (events/naming.ts): tests and parallel systems on one NATS choose their own. */
    EVENTS_SUBJECT_PREFIX: env.matching(SUBJECT_PREFIX, "dot-separated tokens of letters, digits, _ and -", "events"),
    EVENTS_STREAM_PREFIX: env.matching(STREAM_PREFIX, "letters, digits, _ and -", "EVENTS"),
    JWT_ISSUER: env.string("shop-identity"),
    JWT_AUDIENCE: env.string("shop"),
    /** How long published outbox rows are kept before the relay deletes them; 0 keeps them forever. */
    OUTBOX_RETENTION_HOURS: env.int({ min: 0, default: 168 }),
    /** Largest request message the RPC server reads (after decompression); larger ones get ResourceExhausted. */
    READ_MAX_BYTES: env.bytes({ min: 1024, max: 0xffffffff, default: DEFAULT_READ_MAX_BYTES }),
    /** Silence after which a Watch stream sends a heartbeat, below every proxy's idle timeout. */
    STREAM_HEARTBEAT_MS: env.int({ min: 100, default: DEFAULT_HEARTBEAT_MS }),
  });

export type BaseConfig = z.output<ReturnType<typeof baseConfigSchema>>;

type AnySchema = Record<string, unknown>;

export interface ServiceContext<M extends ServiceManifest, TSchema extends AnySchema> {
  readonly manifest: M;
  readonly config: BaseConfig;
  /** The environment the service reads its settings from (process.env, or the definition's env in tests). */
  readonly env: Record<string, string | undefined>;
  readonly logger: Logger;
  /** The service's own database (only for manifests with `database: true`). */
  readonly db: Database<TSchema>;
  /** Writes events in the caller's transaction: the manifest's `publishes`, no others. */
  readonly outbox: Outbox<PublishedBy<M>>;
  readonly bus: EventBus | undefined;
  /** Typed clients for the manifest's dependencies, with their declared methods only. */
  readonly clients: DependencyClients<M["dependsOn"]>;
  readonly tokenSettings: TokenSettings;
  /** Tracer and meter for domain spans and metrics, and onEventPublished (see telemetry/). */
  readonly telemetry: ServiceTelemetry;
  /** Registers something to stop on shutdown (after the server, before the database); setup may destructure it. */
  readonly onStop: (stop: StopFn) => void;
}

/**
 * A subscription to some of the events a manifest consumes. Its handler is
 * typed by its own `events` (see subscription()); here only the events are
 * checked, so a subscription to an event the manifest does not consume is a
 * compile error.
 */
export interface SubscriptionTo<TSchema extends AnySchema, Consumes extends DescMessage> extends Omit<
  Subscription<TSchema, readonly Consumes[]>,
  "handle"
> {
  handle: (tx: never, event: never, meta: EventMeta) => Promise<void>;
}

export interface ServiceParts<TSchema extends AnySchema, Consumes extends DescMessage = DescMessage> {
  services: ServiceRegistration[];
  /** Together they cover the manifest's `consumes` exactly (checked at start). */
  subscriptions?: SubscriptionTo<TSchema, Consumes>[];
  /**
   * How callers are identified, e.g. jwksAuthenticator(clients.identity,
   * tokenSettings) (tokens.ts); undefined: every call is anonymous.
   */
  authenticate: Authenticate | undefined;
  /**
   * Started after the consumers, on the release track that consumes events
   * only, and stopped and started again when the events move (so start() must
   * work after stop()): saga timeouts, recovery sweeps.
   */
  background?: { start(): Promise<void> | void; stop(): Promise<void> | void }[];
  /**
   * The service's own interceptors, innermost: after the runtime's (telemetry,
   * access log, errors, deadline, auth, validation), right before the
   * handlers, so they see what the handlers throw (the gateway translates
   * downstream errors for browsers this way).
   */
  interceptors?: Interceptor[];
  /** HTTP-level additions (the gateway: HTTP/1.1 on the same port, CORS, web app); see ServerOptions. */
  http?: Pick<ServerOptions, "http1OnSamePort" | "httpHandler" | "httpCaching">;
}

export interface ServiceDefinition<M extends ServiceManifest, TSchema extends AnySchema> {
  manifest: M;
  /** drizzle schema of the service's tables (for db.query). */
  schema?: TSchema;
  /** The service's drizzle-kit migrations folder. */
  migrations?: URL;
  setup(
    ctx: ServiceContext<M, TSchema>,
  ): Promise<ServiceParts<TSchema, ConsumedBy<M>>> | ServiceParts<TSchema, ConsumedBy<M>>;
  /** Environment to read instead of process.env (tests). */
  env?: Record<string, string | undefined>;
  /** Where log lines go instead of stdout (tests read them back). */
  logDestination?: DestinationStream;
}

export interface RunningService {
  readonly server: RunningServer;
  /** Stops everything it started (a plain function: handed to signal handlers as is). */
  readonly stop: () => Promise<void>;
}

/** Starts the service and installs SIGTERM/SIGINT handling. */
export async function runService<M extends ServiceManifest, TSchema extends AnySchema>(
  definition: ServiceDefinition<M, TSchema>,
): Promise<RunningService> {
  // Before the configuration is validated: a bad LOG_LEVEL must not stop this logger.
  const level = process.env.LOG_LEVEL && process.env.LOG_LEVEL in pino.levels.values ? process.env.LOG_LEVEL : "info";
  const guardLogger = createLogger(definition.manifest.name, { level, destination: definition.logDestination });
  tolerateDriverFaults(guardLogger);
  let running: Awaited<ReturnType<typeof startService>>;
  try {
    // This process runs this one service: telemetry through the NodeSDK (service-telemetry.ts).
    running = await startService(definition, { telemetry: "process" });
  } catch (err) {
    // One line per problem, naming the variable and the address, on stderr
    // (the launcher collects them); the details go to the log.
    guardLogger.error({ err }, "start-up failed");
    for (const line of startupProblemLines(err)) process.stderr.write(`${STARTUP_PROBLEM_PREFIX}${line}\n`);
    process.exit(STARTUP_PROBLEM_EXIT_CODE);
  }
  handleSignals([running.stop], { logger: running.logger });
  return running;
}

/**
 * Starts the service without touching process signals (tests embed it this
 * way, several in one process: so telemetry defaults to the embedded mode,
 * which installs no global providers and no instrumentations).
 */
export async function startService<M extends ServiceManifest, TSchema extends AnySchema>(
  definition: ServiceDefinition<M, TSchema>,
  options: { telemetry?: TelemetryMode } = {},
): Promise<RunningService & { logger: Logger }> {
  const { manifest } = definition;
  const source = definition.env ?? process.env;
  const config = loadConfig(baseConfigSchema(manifest), source);
  const waitMs = startupWaitMs(source);
  const logger = createLogger(manifest.name, { level: config.LOG_LEVEL, destination: definition.logDestination });
  const telemetry = new ServiceTelemetry(
    telemetrySettings(source, { name: manifest.name, port: config.PORT, host: config.HOST }),
    logger,
    options.telemetry,
  );
  // Pushed first, so it runs last: spans made while stopping are flushed too.
  const stops: StopFn[] = [() => telemetry.shutdown()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.error({ err }, "shutdown step failed");
      }
    }
    stops.length = 0;
  };

  try {
    let db: Database<TSchema> | undefined;
    if (manifest.database) {
      const url = config.DATABASE_URL;
      const opened = await waitForDependency(
        `DATABASE_URL (${withoutCredentials(url)})`,
        () =>
          openDatabase({
            url,
            schema: definition.schema,
            createIfMissing: true,
            applicationName: manifest.name,
            ...(telemetry.tracing
              ? {
                  instrument: (client) => withQuerySpans(client, telemetry.tracer, databaseTarget(config.DATABASE_URL)),
                }
              : {}),
          }),
        { timeoutMs: waitMs, logger },
      );
      db = opened;
      stops.push(() => closeDatabase(opened));
      await migrate(opened, definition.migrations ?? null);
    }

    const naming = new EventNaming({
      subjectPrefix: config.EVENTS_SUBJECT_PREFIX,
      streamPrefix: config.EVENTS_STREAM_PREFIX,
    });
    const eventTypes: DescMessage[] = [...manifest.publishes, ...manifest.consumes];
    let bus: EventBus | undefined;
    if (eventTypes.length > 0) {
      const connected = await waitForDependency(
        `NATS_URL (${withoutCredentials(config.NATS_URL)})`,
        () => EventBus.connect({ servers: config.NATS_URL, name: manifest.name, naming, logger }),
        { timeoutMs: waitMs, logger },
      );
      bus = connected;
      stops.push(() => connected.close());
      // Publishers own their streams, but a consumer may start first: both
      // make sure the stream exists (idempotent).
      for (const type of eventTypes) await connected.ensureStreamFor(type);
    }
    // What needs Postgres or NATS says so when the manifest leaves it out.
    const needs = <T>(value: T | undefined, what: string, part: string): T => {
      if (value === undefined)
        throw new Error(`${manifest.name}: ${part} needs ${what}, which the manifest does not ask for`);
      return value;
    };
    const database = (part: string) => needs(db, "a database (database: true)", part);
    const eventBus = (part: string) => needs(bus, "NATS (publishes or consumes events)", part);

    const clients = createDependencyClients(
      manifest.dependsOn as M["dependsOn"],
      {},
      {
        env: source,
        interceptors: [rpcClientTelemetry(telemetry)],
      },
    );
    stops.push(() => closeDependencyClients(clients));

    const tokenSettings: TokenSettings = { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
    const outbox = createOutbox<PublishedBy<M>>({ naming });
    const extraStops: StopFn[] = [];
    const parts = await definition.setup({
      manifest,
      config,
      env: source,
      logger,
      db: db as Database<TSchema>,
      outbox,
      bus,
      clients,
      tokenSettings,
      telemetry,
      onStop: (stop) => extraStops.push(stop),
    });
    stops.push(...extraStops);

    if (manifest.publishes.length > 0) {
      const relay = new OutboxRelay({
        db: database("the outbox relay"),
        bus: eventBus("the outbox relay"),
        logger,
        aroundPublish: eventPublishTelemetry(telemetry),
        retainPublishedMs: config.OUTBOX_RETENTION_HOURS * 3600 * 1000,
      });
      await relay.start();
      stops.push(() => relay.stop());
      outboxBacklogMetrics(telemetry.meter, database("the outbox relay"), logger);
    }

    const services = [...parts.services];
    // Each handler is typed by its own subscription() call; the consumer dispatches by type.
    const subscriptions = (parts.subscriptions ?? []) as unknown as Subscription<TSchema, readonly DescMessage[]>[];
    checkSubscriptions(manifest, subscriptions);
    const background = parts.background ?? [];
    const processTelemetry = subscriptions.length > 0 ? eventProcessTelemetry(telemetry) : undefined;
    const newConsumer = () => {
      const consumer = new EventConsumer<TSchema>({
        db: database("an event subscription"),
        bus: eventBus("an event subscription"),
        logger,
        ...processTelemetry,
      });
      for (const sub of subscriptions) consumer.consume(sub);
      return consumer;
    };
    if (subscriptions.length > 0 || background.length > 0) {
      // Only the release track that does the event-driven work consumes, and
      // runs the background tasks (saga timeouts, recovery: work on the shared
      // state that no request asked for), so an idle colour or a canary does
      // none of it (release-track.ts). Tasks start after the consumers.
      const trackWork = () => {
        const consumer = subscriptions.length > 0 ? newConsumer() : undefined;
        return {
          async start() {
            await consumer?.start();
            for (const task of background) await task.start();
          },
          async stop() {
            for (const task of [...background].reverse()) await task.stop();
            await consumer?.stop();
          },
        };
      };
      const events = await followReleaseTrack(trackWork, { service: manifest.name, env: source, logger });
      stops.push(() => events.stop());
    }
    if (subscriptions.length > 0) {
      const names = newConsumer().jetStreamConsumers;
      consumerBacklogMetrics(telemetry.meter, {
        db: database("an event subscription"),
        bus: eventBus("an event subscription"),
        consumers: names,
        logger,
      });
    }
    if (manifest.serves.includes(DeadLetterService)) {
      services.push(
        implement(
          DeadLetterService,
          deadLetterService(database("DeadLetterService"), eventBus("DeadLetterService").js),
        ),
      );
    }

    const { authenticate } = parts;
    const server = await startServer({
      name: manifest.name,
      port: config.PORT,
      host: config.HOST,
      services,
      authenticate,
      logger,
      telemetry,
      readMaxBytes: config.READ_MAX_BYTES,
      streamHeartbeatMs: config.STREAM_HEARTBEAT_MS,
      interceptors: parts.interceptors,
      ...parts.http,
    });
    // The server stops first: in-flight calls finish while the database and
    // the bus are still there.
    stops.push(() => server.stop());
    await telemetry.startMetricsEndpoint();
    stops.push(() => telemetry.stopMetricsEndpoint());
    logger.info({ url: server.url }, `${manifest.name} serving`);
    return { server, logger, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function databaseTarget(url: string): DatabaseTarget {
  const u = new URL(url);
  return { database: databaseNameOf(url), host: u.hostname, port: Number(u.port || 5432) };
}

/**
 * The manifest's `consumes` is what the mesh and the streams are set up from;
 * the subscriptions are what actually runs. They must be the same events: an
 * event consumed and never handled would pile up unread, one handled and not
 * declared would have no stream.
 */
export function checkSubscriptions(
  manifest: ServiceManifest,
  subscriptions: readonly { events: readonly DescMessage[] }[],
): void {
  const declared = new Set(manifest.consumes.map((type) => type.typeName));
  const handled = new Set(subscriptions.flatMap((sub) => sub.events.map((type) => type.typeName)));
  const unhandled = [...declared].filter((name) => !handled.has(name));
  const undeclared = [...handled].filter((name) => !declared.has(name));
  if (unhandled.length > 0 || undeclared.length > 0) {
    throw new Error(
      `${manifest.name}: subscriptions must cover the manifest's consumes exactly` +
        (unhandled.length > 0 ? `; no subscription for ${unhandled.join(", ")}` : "") +
        (undeclared.length > 0 ? `; not in consumes: ${undeclared.join(", ")}` : ""),
    );
  }
}
