import cookie from "@fastify/cookie";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Config, TrustProxy } from "./config.js";
import { TokenService } from "./oauth/token-service.js";
import { GraphNotificationHub, mailSenderFactory, mailSourceFactory, mailSourceTester, readableProtocols, type ConnectorOptions, type MailSender } from "./connectors/index.js";
import { graphWebhookRoutes } from "./features/graph-webhooks/graph-webhooks.routes.js";
import { trustedCa } from "./shared/https-request.js";
import type { MailSourceFactory, MailSourceTester } from "./connectors/mail-source.js";
import { IngestService, type MailParser } from "./ingest/ingest.service.js";
import { createParser, type Parser } from "./ingest/parser-pool.js";
import { createRunnerManager } from "./runners/create-runner-manager.js";
import type { RunnerManager } from "./runners/runner-manager.js";
import type { SecretBox } from "./crypto/secret-box.js";
import type { Db } from "./db/database.js";
import { applicationsRoutes } from "./features/applications/applications.routes.js";
import { ApplicationsService } from "./features/applications/applications.service.js";
import { auditRoutes } from "./features/audit/audit.routes.js";
import { AuditService, systemActor } from "./features/audit/audit.service.js";
import { authRoutes } from "./features/auth/auth.routes.js";
import { AuthService } from "./features/auth/auth.service.js";
import { DatabaseBlobStore, type BlobStore } from "./blobs/blob-store.js";
import { interactionsRoutes } from "./features/interactions/interactions.routes.js";
import { routingRoutes } from "./features/routing/routing.routes.js";
import { RoutingService } from "./features/routing/routing.service.js";
import { InteractionWorkService } from "./features/interactions/interaction-work.service.js";
import { outboxRoutes } from "./features/outbox/outbox.routes.js";
import { OutboxService } from "./features/outbox/outbox.service.js";
import { defaultOutboxOptions, OutboxSender, type OutboxSenderOptions } from "./runners/outbox-sender.js";
import type { OutboundConnection } from "./features/mailboxes/mailboxes.service.js";
import { threadKey } from "./ingest/ingest.store.js";
import { messageFingerprint } from "./ingest/fingerprint.js";
import { sanitizeMailHtml } from "./ingest/html-sanitize.js";
import { InteractionsService } from "./features/interactions/interactions.service.js";
import { InteractionsStore } from "./features/interactions/interactions.store.js";
import { eventsRoutes } from "./features/events/events.routes.js";
import { EventBus, type MailroomEvent } from "./shared/event-bus.js";
import { SessionEnds } from "./shared/session-ends.js";
import { fromAddressesRoutes } from "./features/from-addresses/from-addresses.routes.js";
import { FromAddressesService } from "./features/from-addresses/from-addresses.service.js";
import { MetricsAccess, healthRoutes } from "./features/health/health.routes.js";
import { mailboxesRoutes } from "./features/mailboxes/mailboxes.routes.js";
import { MailboxesService } from "./features/mailboxes/mailboxes.service.js";
import { queuesRoutes } from "./features/queues/queues.routes.js";
import { QueuesService } from "./features/queues/queues.service.js";
import { usersRoutes } from "./features/users/users.routes.js";
import { nodesRoutes } from "./features/nodes/nodes.routes.js";
import { NodesService } from "./features/nodes/nodes.service.js";
import { UsersService } from "./features/users/users.service.js";
import { installAccessControl, type RouteEntry } from "./http/access.js";
import { webAppPages } from "./http/web-app.js";
import { databaseRateLimitStore } from "./http/rate-limit-store.js";
import { installErrorHandler } from "./http/error-handler.js";
import { clientErrorHandler, defaultBodyLimit, frameworkErrors, installInputGuards } from "./http/input-guards.js";
import type { Logger } from "./logger.js";
import { systemClock, type Clock } from "./shared/clock.js";
import { newId } from "./shared/ids.js";
import { PostgresChangeFeed } from "./cluster/change-feed.js";
import { leaseTimings, PostgresLeases, SingleNodeLeases, type MailboxLeases, type NodeIdentity } from "./cluster/leases.js";
import { randomBytes } from "node:crypto";

/** Everything with side effects enters here; tests pass real peers or deterministic stand-ins. */
export interface AppDeps {
  config: Config;
  db: Db;
  log: Logger;
  secretBox: SecretBox;
  clock?: Clock;
  /** where raw messages and attachments are kept; the database by default */
  blobs?: BlobStore;
  /** runs POST /api/v1/mailboxes/:id/test; the real connectors by default */
  mailSourceTester?: MailSourceTester;
  /** the mailbox connectors; the real IMAP and POP3 ones by default */
  mailSources?: MailSourceFactory;
  /** the MIME parser; by default a pool of `parseWorkers` worker processes */
  parser?: MailParser;
  /** how often an event stream checks that its session still lives; 15 s by default */
  sessionCheckMs?: number;
  /** the outbox sender's retry and lease timings (tests shorten them) */
  outboxOptions?: Partial<OutboxSenderOptions>;
  /** the MailSender of the outbound mailbox; SMTP through nodemailer by default */
  mailSenders?: (connection: OutboundConnection) => MailSender;
  /** OAuth 2.0 tokens (MSAL against Entra ID, or the Microsoft emulator); built from config by default */
  tokens?: TokenService;
}

export interface Services {
  audit: AuditService;
  users: UsersService;
  auth: AuthService;
  interactions: InteractionsService;
  routing: RoutingService;
  work: InteractionWorkService;
  ingest: IngestService;
  queues: QueuesService;
  fromAddresses: FromAddressesService;
  mailboxes: MailboxesService;
  applications: ApplicationsService;
  outbox: OutboxService;
}

export interface MailroomApp {
  http: FastifyInstance;
  services: Services;
  metrics: Registry;
  events: EventBus;
  /** every route with the roles it allows, for the access tests */
  routeTable: RouteEntry[];
  /** Creates the first admin when there are no users; returns the generated password, if one was generated. */
  bootstrapAdmin(): Promise<{ created: boolean; generatedPassword?: string }>;
  /** Re-seals v1 secrets, then starts the background work (mailbox runners); the HTTP API works without it. */
  start(): Promise<void>;
  /** Starts the outbox sender alone (start() starts it with the runners): for nodes and tests that send without mailboxes. */
  startSending(): void;
  /** Makes a mailbox's runner on this node sync now; false when it has none here. */
  wakeMailbox(mailboxId: string): boolean;
  /** Stops runners and the HTTP server; the database stays open (its owner closes it). */
  close(): Promise<void>;
}

/** A hop count trusts that many proxies nearest to Mailroom; addresses and `true` go to Fastify as they are. */
function fastifyTrustProxy(setting: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === "number" ? (_address, hop) => hop < setting : setting;
}

export async function createApp(deps: AppDeps): Promise<MailroomApp> {
  const clock = deps.clock ?? systemClock;
  const k = deps.db.kysely;
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });

  const audit = new AuditService(k, clock);
  const sessionEnds = new SessionEnds();
  const users = new UsersService(k, audit, clock, deps.db.dialect, sessionEnds);
  const auth = new AuthService(k, users, clock, deps.config.sessionHours, sessionEnds);
  // this process among the nodes on the database; events carry ids that are the same on every node
  const node: NodeIdentity = { id: newId(), name: deps.config.node.name };
  const events = new EventBus(node.id.slice(-8));
  const database = deps.config.database;
  const feed =
    deps.db.dialect === "postgres" && database.dialect === "postgres" ? new PostgresChangeFeed(events, k, database.url, deps.log.child({ component: "events" }), node.name) : null;
  const blobs = deps.blobs ?? new DatabaseBlobStore(k);
  const interactionsStore = new InteractionsStore(k);
  const interactions = new InteractionsService(interactionsStore, blobs);
  // Workers start with the runners, not with every app (the API alone never parses). Not with the first
  // message or the first runner: starting a worker took 0.4-0.7 s here, and that message waited for it.
  let parserPool: Parser | undefined;
  const parserPoolNow = () =>
    (parserPool ??= createParser({
      workers: deps.config.parseWorkers,
      // a hostile message exhausts a worker process's heap, not the server's: the pool wraps it as unparsable
      memoryLimitMb: deps.config.parseWorkerMemoryMb,
    }));
  const parse: MailParser = deps.parser ?? ((input, ctx, options) => parserPoolNow().parse(input, ctx, options));
  const ingest = new IngestService(k, blobs, parse, clock);
  // on PostgreSQL new interactions are announced by the transaction that stores them
  if (feed) ingest.commitNotices = (mailboxId, interactionIds) => feed.statements({ type: "interaction.created", mailboxId, interactionIds });
  const queues = new QueuesService(k, audit, clock, users);
  const fromAddresses = new FromAddressesService(k, audit, clock);
  const publicUrl = deps.config.microsoft.publicUrl;
  const graphHub = new GraphNotificationHub(publicUrl && `${publicUrl}/api/v1/graph/notifications`, publicUrl && `${publicUrl}/api/v1/graph/lifecycle`);
  // on several nodes, a notification for a mailbox another node runs goes to that node through the feed
  if (feed) graphHub.setForward((kind, items) => events.publish({ type: "graph.notifications", kind, items }));
  const trustedMicrosoftCa = trustedCa(deps.config.microsoft.trustedCaPem);
  const connectorOptions: ConnectorOptions = { graph: { hub: graphHub, ca: trustedMicrosoftCa, timeoutMs: 30_000 }, ews: { ca: trustedMicrosoftCa, timeoutMs: 30_000, pollMs: deps.config.pop3PollSeconds * 1000 } };
  const tokens =
    deps.tokens ??
    new TokenService({ timeoutMs: deps.config.microsoft.tokenTimeoutMs, extraCa: deps.config.microsoft.trustedCaPem, log: deps.log.child({ component: "oauth" }) });
  const mailboxes = new MailboxesService(k, audit, clock, deps.secretBox, fromAddresses, deps.log, deps.mailSourceTester ?? mailSourceTester(connectorOptions), tokens);
  // the web UI reloads what it shows of mailboxes: an application enabled elsewhere turns a box red at once
  mailboxes.onChange(() => events.publish({ type: "mailboxes.changed" }));
  new Gauge({
    name: "mailroom_oauth_client_secret_days_left",
    help: "Days until the client secret of an OAuth 2.0 mailbox expires (0 when it has); Mailroom warns from 30 days",
    labelNames: ["mailbox"],
    registers: [metrics],
    async collect() {
      this.reset();
      for (const m of await mailboxes.secretExpiries()) this.set({ mailbox: m.name }, m.daysLeft);
    },
  });
  const applications = new ApplicationsService(k, audit, clock, mailboxes, queues);
  const routing = new RoutingService(k, queues, audit, clock);
  const work = new InteractionWorkService(k, interactions, queues, users, events, clock);
  work.onOfferError = (err) => deps.log.error({ err }, "offering waiting interactions to available agents failed");
  users.onAvailable = () => work.offerSoon();
  const outbox = new OutboxService({
    db: k,
    dialect: deps.db.dialect,
    blobs,
    mailboxes,
    interactions,
    events,
    clock,
    sanitizeHtml: sanitizeMailHtml,
    threadKey,
    fingerprint: (raw) => messageFingerprint({ raw, size: raw.length, truncated: false }),
  });
  const createMailSender = mailSenderFactory(connectorOptions);
  const mailSenders = deps.mailSenders ?? ((connection: OutboundConnection) => createMailSender(connection.type, connection.settings));
  const sender = new OutboxSender(outbox, mailSenders, clock, deps.log, {
    ...defaultOutboxOptions,
    leaseMs: deps.config.outbox.leaseSeconds * 1000,
    retryMs: deps.config.outbox.retrySeconds * 1000,
    maxAttempts: deps.config.outbox.maxAttempts,
    ...deps.outboxOptions,
  });
  outbox.onQueued = () => sender.wake();
  // auto-acknowledgements are written with the messages they answer
  ingest.onOutboxRows = () => sender.wake();
  // the reference: agents get the From addresses as of sign-in; a new session sees new values
  auth.fromAddressSource = async () => fromAddresses.forAgents(await mailboxes.outboundSender());
  const services: Services = { audit, users, auth, interactions, work, ingest, queues, fromAddresses, mailboxes, applications, routing, outbox };

  const fastifyLogger: FastifyBaseLogger = deps.log;
  const http: FastifyInstance = Fastify({
    loggerInstance: fastifyLogger,
    bodyLimit: defaultBodyLimit,
    trustProxy: fastifyTrustProxy(deps.config.trustProxy),
    frameworkErrors,
    clientErrorHandler,
  });
  http.setValidatorCompiler(validatorCompiler);
  http.setSerializerCompiler(serializerCompiler);
  installErrorHandler(http, webAppPages(deps.config.webDir));
  // before sign-in is checked: a NUL is refused for everyone, everywhere
  installInputGuards(http);
  await http.register(cookie);
  // counted in the database: N nodes behind a load balancer allow no more sign-in attempts than one
  await http.register(rateLimit, { global: false, store: databaseRateLimitStore(k, () => clock.now().getTime()) });
  await http.register(swagger, {
    openapi: {
      info: { title: "Mailroom API", version: "1" },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer" },
          cookie: { type: "apiKey", in: "cookie", name: "mailroom_session" },
        },
      },
      security: [{ bearer: [] }, { cookie: [] }],
    },
    transform: jsonSchemaTransform,
  });
  const routeTable = installAccessControl(http, auth);

  await http.register(
    healthRoutes(deps.db, metrics, new MetricsAccess(deps.config.metricsToken, auth), () => ({ id: node.id, name: node.name, mailboxes: runners?.states().size ?? 0 })),
  );
  await http.register(nodesRoutes(new NodesService(k, deps.db.dialect, deps.config.node.leaseSeconds * 1000, () => mailboxes.enabledInboundIds(readableProtocols))));
  await http.register(authRoutes(auth, { cookieSecure: deps.config.cookieSecure, loginRateLimitPerMinute: deps.config.loginRateLimitPerMinute }));
  await http.register(usersRoutes(users));
  await http.register(auditRoutes(audit));
  await http.register(interactionsRoutes(interactions, work));
  await http.register(eventsRoutes(events, auth, sessionEnds, { sessionCheckMs: deps.sessionCheckMs }));
  await http.register(queuesRoutes(queues));
  await http.register(routingRoutes(routing));
  await http.register(outboxRoutes(outbox, auth));
  await http.register(fromAddressesRoutes(fromAddresses, auth));
  await http.register(graphWebhookRoutes(graphHub));
  await http.register(mailboxesRoutes(mailboxes));
  await http.register(applicationsRoutes(applications));
  http.get("/api/openapi.json", { schema: { hide: true } }, () => http.swagger());

  await http.ready();
  // every node hears every node's events from here on (started last: a failure above leaves no connection behind)
  await feed?.start();
  let runners: RunnerManager | undefined;
  let stopHearingNotifications: (() => void) | undefined;

  return {
    http,
    services,
    metrics,
    events,
    routeTable,
    async bootstrapAdmin() {
      if ((await users.store.count()) > 0) return { created: false };
      const generated = deps.config.adminPassword ? undefined : randomBytes(12).toString("base64url");
      await users.create(systemActor, { username: "admin", password: deps.config.adminPassword ?? generated!, role: "admin" });
      return generated ? { created: true, generatedPassword: generated } : { created: true };
    },
    async start() {
      // on every node, runners or not: after this, a secret opens only in the mailbox and column it was sealed for
      await mailboxes.resealLegacySecrets();
      if (!deps.config.runnersEnabled || runners) return;
      // a parse worker takes a moment to start: started now, it is ready when the first mailbox is enabled
      if (!deps.parser) parserPoolNow();
      // deduplication and the repair of reused POP3 keys compare fingerprints: rows from before them get theirs first
      const filled = await ingest.backfillContentHashes((done) => deps.log.info({ done }, "content fingerprints of stored messages"));
      if (filled) deps.log.info({ filled }, "stored messages fingerprinted");
      const leases: MailboxLeases =
        feed && database.dialect === "postgres"
          ? new PostgresLeases(node, k, database.url, leaseTimings(deps.config.node.leaseSeconds), deps.log.child({ component: "leases" }))
          : new SingleNodeLeases(node, k, 10_000);
      runners = createRunnerManager({
        config: deps.config,
        log: deps.log,
        clock,
        registry: metrics,
        mailboxes: {
          listEnabledInbound: (only) => mailboxes.listEnabledInbound(only),
          enabledInboundIds: (types) => mailboxes.enabledInboundIds(types),
          // through the feed: a change made on another node reaches this one; after a gap in the feed, everything is read again
          onChange: (listener) => {
            const offChanged = events.on("mailboxes.changed", listener);
            const offResync = events.on("resync", listener);
            return () => {
              offChanged();
              offResync();
            };
          },
          ownAddresses: () => mailboxes.ownAddresses(),
          recordWarning: (mailboxId, code, message) => mailboxes.recordWarning(mailboxId, code, message),
          async setStatus(mailboxId, status, fence) {
            // the event says what changed; the whole message is on the mailbox (a NOTIFY carries < 8,000 bytes)
            const message = status.message && status.message.length > 2000 ? `${status.message.slice(0, 2000)}…` : (status.message ?? null);
            const event: MailroomEvent = { type: "mailbox.status", mailboxId, state: status.state, code: status.code ?? null, message };
            // on PostgreSQL announced by the transaction that writes the status; after it otherwise
            await mailboxes.setStatus(mailboxId, status, fence, feed?.statements(event));
            if (!feed) events.publish(event);
          },
        },
        createSource: deps.mailSources ?? mailSourceFactory(connectorOptions),
        ingest,
        leases,
        onCommitted: (mailboxId, interactionIds) => {
          // PostgreSQL: announced by the transaction itself (ingest.commitNotices)
          if (!feed) events.publish({ type: "interaction.created", mailboxId, interactionIds });
          work.offerSoon();
        },
      });
      const started = runners;
      graphHub.setWake((mailboxId) => started.wake(mailboxId));
      // notifications that reached a node which does not run their mailboxes (forwarded above)
      if (feed) {
        stopHearingNotifications = events.on("graph.notifications", (e) => {
          if (e.kind === "changes") graphHub.changes({ value: e.items }, true);
          else graphHub.lifecycle({ value: e.items }, true);
        });
      }
      await runners.start();
      sender.start();
    },
    startSending() {
      sender.start();
    },
    wakeMailbox(mailboxId) {
      return runners?.wake(mailboxId) ?? false;
    },
    async close() {
      stopHearingNotifications?.();
      // the runners stop, then hand their leases back
      await runners?.stop();
      await sender.stop();
      await http.close();
      await work.idle();
      await parserPool?.close();
      await feed?.stop();
    },
  };
}
