/**
 * The Redis ledger's connection: its own node-redis client (or one passed in), calls with a
 * deadline, and what a failed call means (see docs/budgets.md, "When Redis is unreachable or
 * hangs").
 *
 * - The own client reconnects with exponential backoff and jitter on an `unref`'d timer, and its
 *   socket is `unref`'d: a host whose Redis is down can still exit. (node-redis' own reconnect
 *   strategy sleeps on a ref'd timer, which would keep the process alive, so it is turned off.)
 * - A call that gets no answer within the deadline marks the connection stalled: until some
 *   answer arrives on it, calls are not sent (they would only queue behind the unanswered ones in
 *   a hung Redis) and fail at once. The late answer ends the stall; an own connection that stays
 *   silent for max(5 s, 100 × the deadline) is replaced.
 * - Every failure says whether the command may have reached Redis (`sent`): a write that was
 *   sent may have been applied, and is replayed with its sequence number, never blindly.
 * - Redis Cluster (docs/budgets.md, "Redis Cluster"): a node-redis cluster client, own or passed
 *   in, is wrapped so that the scripts see one client: `EVALSHA` goes to the master of its first
 *   key's slot (every key of one call shares a slot: hash tags), `SCRIPT LOAD` to every master.
 *   node-redis follows MOVED and ASK, but rediscovers the topology only on those: after a
 *   master's crash it would keep calling the dead node. So when a node of the own cluster client
 *   is lost, a new client is made from the seed nodes (with the same backoff) and swapped in
 *   once connected; until then the old one serves the slots it still can.
 */
import type { Reporter } from '../../diag.js';
import { type Script, ScriptMissingError, ScriptRunner } from './scripts.js';

/** The part of a node-redis (v4/v5) client the ledger uses; any `createClient()` result fits. */
export interface RedisLedgerClient {
  sendCommand(args: string[]): Promise<unknown>;
  /** When false, operations fail fast instead of waiting for the deadline. */
  readonly isReady?: boolean;
}

/** The part of a node-redis (v5) cluster client the ledger uses; any `createCluster()` result
 * fits. */
export interface RedisLedgerClusterClient {
  /** Sends `args` to the node serving `firstKey`'s slot (a random node without a key). */
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
  ): Promise<unknown>;
  /** The masters, as `nodeClient` takes them. */
  readonly masters: readonly object[];
  nodeClient(node: object): Promise<{ sendCommand(args: string[]): Promise<unknown> }>;
  readonly isOpen: boolean;
}

/** Whether `client` is a node-redis cluster client (it routes by key: see
 * {@link RedisLedgerClusterClient}). */
export function isClusterClient(
  client: RedisLedgerClient | RedisLedgerClusterClient,
): client is RedisLedgerClusterClient {
  return (
    typeof (client as RedisLedgerClusterClient).nodeClient === 'function' &&
    'masters' in (client as object)
  );
}

/** Why a call failed. */
export type FailureKind = 'redis_unavailable' | 'redis_timeout' | 'redis_error';

/** The outcome of one call; never a rejection. */
export type CallResult =
  | { ok: true; reply: unknown }
  | {
      ok: false;
      kind: FailureKind;
      /** The command may have reached Redis (and may have been, or still be, applied). */
      sent: boolean;
      /** A call that timed out: it may still be answered. */
      late?: Promise<unknown>;
    };

/** Counters of a {@link RedisConnection}. */
export type ConnectionCounters = {
  /** Successful (re)connections of the ledger's own client. */
  connects: number;
  /** Connection attempts that failed, and connections lost. */
  connectFailures: number;
  /** Calls that found Redis unreachable. */
  redisUnavailable: number;
  /** Calls made while the first connection was still being made, decided by the failure
   * policy (not an outage: a first connection that fails reports itself). */
  beforeFirstConnect: number;
  /** Calls made after the ledger closed its connection (a shutdown racing calls in flight). */
  afterClose: number;
  /** Calls that got no answer within the deadline. */
  redisTimeout: number;
  /** Calls not sent because an earlier call had no answer yet (Redis hung). */
  stalledCalls: number;
  /** Own connections replaced because they stayed silent (see `redis_stalled`). */
  stallResets: number;
  /** Calls Redis answered with an error (e.g. a key of the wrong type). */
  redisError: number;
  /** Writes Redis did not run because its script cache had lost the script (kept and replayed
   * in order). */
  scriptMisses: number;
};

/** Options of {@link RedisConnection}. */
export interface RedisConnectionOptions {
  url: string;
  /** Seed URLs of a Redis Cluster: the own client is then a cluster client (`url` unused). */
  clusterUrls?: readonly string[] | undefined;
  client: RedisLedgerClient | RedisLedgerClusterClient | undefined;
  timeoutMs: number;
  reporter: Reporter;
  /** The failure policy in words, appended to the first report of each kind. */
  policy: string;
  /** Called when calls can be sent again: connected, or a stall ended. */
  onUsable(): void;
}

const CONNECT_TIMEOUT_MS = 2_000;
/** A stalled own connection is replaced after max(5 s, 100 × timeoutMs) without an answer. */
const STALL_RESET_MIN_MS = 5_000;
const STALL_RESET_FACTOR = 100;
const MAX_BACKOFF_MS = 2_000;
/** Error replies that mean Redis cannot serve right now (loading, busy script, failover; on a
 * cluster also a slot still moving after every redirection node-redis follows, and a write that
 * reached a node demoted to replica). */
const UNAVAILABLE_CODES = new Set([
  'LOADING',
  'BUSY',
  'MASTERDOWN',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'NOSCRIPT',
  'MOVED',
  'ASK',
  'READONLY',
]);
/** A cluster whose nodes failed again within this time backs off further (see #clusterLost). */
const CLUSTER_QUIET_MS = 5_000;
const TIMEOUT = Symbol('timeout');

/** The own cluster client: a node-redis `createCluster()` result. */
type OwnCluster = RedisLedgerClusterClient & {
  connect(): Promise<unknown>;
  destroy(): void;
  close(): Promise<unknown>;
  on(event: string, listener: (err: unknown) => void): unknown;
  readonly nodeByAddress: ReadonlyMap<string, { client?: { unref(): void } }>;
};

type OwnClient = RedisLedgerClient & {
  connect(): Promise<unknown>;
  unref(): void;
  on(event: string, listener: (err: unknown) => void): unknown;
  readonly isOpen: boolean;
  destroy(): void;
};

/**
 * The cluster client as the scripts see it: one `sendCommand(args)`. `EVALSHA` and `EVAL` are
 * routed by their first key (always to the master: a reservation must read what the last write
 * left), `SCRIPT LOAD` goes to every master (each node has its own script cache) and succeeds if
 * one of them loaded it (a master that did not answers `NOSCRIPT` later and is loaded then).
 */
class ClusterSender implements RedisLedgerClient {
  /** Own client: true from its connection (node-redis calls a cluster open as soon as it
   * starts discovering it) until it is replaced or closed. A client passed in: always. */
  #usable: boolean;
  constructor(
    readonly cluster: RedisLedgerClusterClient,
    own: boolean,
  ) {
    this.#usable = !own;
  }

  get isReady(): boolean {
    return this.#usable && this.cluster.isOpen;
  }

  /** The own client is connected: calls may go. */
  connected(): void {
    this.#usable = true;
  }

  retire(): void {
    this.#usable = false;
  }

  async sendCommand(args: string[]): Promise<unknown> {
    if (args[0] === 'SCRIPT' && args[1] === 'LOAD') {
      const results = await Promise.allSettled(
        this.cluster.masters.map(async (m) => (await this.cluster.nodeClient(m)).sendCommand(args)),
      );
      const loaded = results.find((r) => r.status === 'fulfilled');
      if (loaded) return loaded.value;
      throw results.length > 0
        ? (results[0] as PromiseRejectedResult).reason
        : new Error('no master');
    }
    const keyed = (args[0] === 'EVALSHA' || args[0] === 'EVAL') && Number(args[2]) > 0;
    return this.cluster.sendCommand(keyed ? args[3] : undefined, false, args);
  }
}

/** node-redis options for the own cluster client: the seeds, and for every node the same
 * credentials and TLS as the seed URLs (node-redis uses a seed's URL only to discover the
 * others). The URLs were checked to agree on those (RedisLedger's option checks). */
function clusterOptions(urls: readonly string[]): Record<string, unknown> {
  const first = new URL(urls[0] as string);
  const socket: Record<string, unknown> = {
    connectTimeout: CONNECT_TIMEOUT_MS,
    reconnectStrategy: false,
  };
  if (first.protocol === 'rediss:') socket.tls = true;
  return {
    rootNodes: urls.map((url) => ({ url })),
    defaults: {
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
      // Fail fast while a node is disconnected instead of queueing commands for later.
      disableOfflineQueue: true,
      socket,
    },
    // Nodes are connected on first use (SCRIPT LOAD reaches every master at once anyway): a
    // master that is down does not keep the client from serving the other slots.
    minimizeConnections: true,
  };
}

/** The `cluster` option of {@link RedisLedger}: a Redis Cluster by its seed nodes, as
 * node-redis' `createCluster({ rootNodes })` takes them. */
export interface RedisClusterOption {
  /** One or more nodes of the cluster (any of them, master or replica); the ledger discovers
   * the others. Every URL must carry the same scheme and credentials: they are used for every
   * node. */
  rootNodes: ReadonlyArray<{ url: string }>;
}

/** Checks a `cluster` option (see {@link RedisClusterOption}); the problem, or undefined. */
export function checkClusterOption(v: unknown): string | undefined {
  const shape = 'must be { rootNodes: [{ url: "redis://host:port" }, ...] }';
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return shape;
  const keys = Object.keys(v);
  const nodes = (v as { rootNodes?: unknown }).rootNodes;
  if (keys.length !== 1 || !Array.isArray(nodes) || nodes.length === 0) return shape;
  let first: URL | undefined;
  for (const node of nodes) {
    const url = (node as { url?: unknown } | null)?.url;
    if (typeof node !== 'object' || Object.keys(node).length !== 1 || typeof url !== 'string') {
      return shape;
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return `${shape}; ${JSON.stringify(url)} is not a URL`;
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
      return `${shape}; ${redisAddress(url)} is not a redis:// or rediss:// URL`;
    }
    if (!/^\/?0?$/.test(u.pathname)) return 'a Redis Cluster has database 0 only';
    first ??= u;
    if (
      u.protocol !== first.protocol ||
      u.username !== first.username ||
      u.password !== first.password
    ) {
      return 'every root node must have the same scheme and credentials (they are used for every node)';
    }
  }
  return undefined;
}

/** The seed URLs of a checked `cluster` option, which excludes `url` and `client`. */
export function clusterSeeds(options: {
  url?: unknown;
  client?: unknown;
  cluster?: RedisClusterOption;
}): string[] | undefined {
  if (options.cluster === undefined) return undefined;
  if (options.url !== undefined || options.client !== undefined) {
    throw new TypeError(
      'spanledger: new RedisLedger: invalid options: cluster: give cluster, url or client, not several',
    );
  }
  return options.cluster.rootNodes.map((n) => n.url);
}

/** `host:port` of a Redis URL, without credentials (for messages). */
export function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'the configured Redis URL';
  }
}

/** The ledger's connection to Redis (see the module comment). */
export class RedisConnection {
  readonly counters: ConnectionCounters = {
    connects: 0,
    connectFailures: 0,
    redisUnavailable: 0,
    beforeFirstConnect: 0,
    afterClose: 0,
    redisTimeout: 0,
    stalledCalls: 0,
    stallResets: 0,
    redisError: 0,
    scriptMisses: 0,
  };
  readonly scripts = new ScriptRunner();
  readonly #url: string;
  readonly #clusterUrls: readonly string[] | undefined;
  readonly #address: string;
  readonly #timeoutMs: number;
  readonly #reporter: Reporter;
  readonly #policy: string;
  readonly #onUsable: () => void;
  readonly #ownsClient: boolean;
  #client: RedisLedgerClient | undefined;
  #closed = false;
  #retries = 0;
  /** Own cluster client: when a node was last lost (consecutive losses back off further). */
  #lastNodeLoss = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** First connection of the own client, awaited (within the deadline) by early calls. */
  #firstConnect: Promise<void> | undefined;
  /** Set while a call that timed out has had no answer. */
  #stalled = false;
  #stallTimer: NodeJS.Timeout | undefined;
  /** The client the scripts were loaded for, and that load. */
  #loadedFor: { client: RedisLedgerClient; promise: Promise<void> } | undefined;

  constructor(options: RedisConnectionOptions) {
    this.#url = options.url;
    this.#clusterUrls = options.clusterUrls;
    this.#address = options.clusterUrls
      ? `cluster ${options.clusterUrls.map(redisAddress).join(',')}`
      : redisAddress(options.url);
    this.#timeoutMs = options.timeoutMs;
    this.#reporter = options.reporter;
    this.#policy = options.policy;
    this.#onUsable = options.onUsable;
    const given = options.client;
    this.#client = given && isClusterClient(given) ? new ClusterSender(given, false) : given;
    this.#ownsClient = given === undefined;
    if (this.#ownsClient) this.#firstConnect = this.#open();
  }

  /** `host:port`, `cluster host:port,host:port` (the seeds), or the client passed in. */
  get address(): string {
    if (this.#ownsClient) return this.#address;
    return this.#client instanceof ClusterSender
      ? 'the Redis Cluster client passed in'
      : 'the Redis client passed in';
  }

  /** Connected, not stalled, not closed: a call would be sent. */
  usable(): boolean {
    return this.#connected() && !this.#stalled;
  }

  /** Runs a script within the deadline; never rejects. `write`: the script is a write whose
   * order matters (never sent again by the runner; see scripts.ts). */
  async call(
    s: Script,
    keys: readonly string[],
    args: readonly string[],
    write = false,
  ): Promise<CallResult> {
    const started = Date.now();
    if (this.#closed) {
      // Closed on purpose (shutdown): no outage to report; the caller answers by its policy.
      this.counters.afterClose++;
      return { ok: false, kind: 'redis_unavailable', sent: false };
    }
    if (!this.#connected() && this.#firstConnect) {
      // Early calls wait (within their deadline) for the first connection rather than failing.
      await within(this.#firstConnect, this.#timeoutMs);
    }
    if (!this.#connected()) {
      // Still connecting for the first time (loading the client, the handshake)? Read before
      // yielding: the connection may complete meanwhile, and this call was still made before it.
      const firstConnecting =
        this.#firstConnect !== undefined &&
        this.counters.connects === 0 &&
        this.counters.connectFailures === 0;
      // Yield once: a caller retrying in a tight loop must not starve the reconnect timer and
      // the host's I/O with a stream of synchronously settled failures.
      await new Promise((resolve) => setImmediate(resolve));
      if (firstConnecting) {
        // Decided by the policy and kept for replay, but Redis is not known to be down: no
        // warning. A first connection that fails reports itself.
        this.counters.beforeFirstConnect++;
        return { ok: false, kind: 'redis_unavailable', sent: false };
      }
      return this.#fail('redis_unavailable', `${s.name}: not connected`, false);
    }
    if (this.#stalled) {
      this.counters.stalledCalls++;
      return { ok: false, kind: 'redis_timeout', sent: false };
    }
    const client = this.#client as RedisLedgerClient;
    const run = this.#loaded(client).then(() => this.scripts.run(client, s, keys, args, !write));
    const result = await within(run, Math.max(1, this.#timeoutMs - (Date.now() - started)));
    if (result === TIMEOUT) {
      this.#stall(run);
      const failure = this.#fail(
        'redis_timeout',
        `${s.name}: no answer within ${this.#timeoutMs} ms`,
        true,
      );
      return { ...failure, late: run };
    }
    if (result.ok) return { ok: true, reply: result.value };
    if (result.error instanceof ScriptMissingError) {
      this.counters.scriptMisses++;
      return { ok: false, kind: 'redis_unavailable', sent: false };
    }
    const message = result.error instanceof Error ? result.error.message : String(result.error);
    // Error replies start with an upper-case code (ERR, WRONGTYPE, ...): Redis answered, so it
    // is not an outage, except for codes that mean "not serving now".
    const code = /^([A-Z][A-Z_]+) /.exec(message)?.[1];
    if (code && !UNAVAILABLE_CODES.has(code)) {
      return this.#fail('redis_error', `${s.name}: ${message}`, true);
    }
    return this.#fail('redis_unavailable', `${s.name}: ${message}`, true);
  }

  /** Stops reconnecting and closes the own client (a client passed in is left open). */
  close(): void {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    const current = this.#client;
    const client = (current instanceof ClusterSender ? current.cluster : current) as
      | { destroy?: () => void }
      | undefined;
    if (this.#ownsClient && client) {
      this.#client = undefined;
      try {
        client.destroy?.();
      } catch {
        // Already closed (connection lost): nothing to release.
      }
    }
  }

  /** Scripts are loaded once per client before its first call (single flight; retried after a
   * failure). */
  #loaded(client: RedisLedgerClient): Promise<void> {
    if (this.#loadedFor?.client !== client) {
      const p = this.scripts.loadAll(client).catch((err: unknown) => {
        if (this.#loadedFor?.promise === p) this.#loadedFor = undefined;
        throw err;
      });
      this.#loadedFor = { client, promise: p };
    }
    return this.#loadedFor.promise;
  }

  #connected(): boolean {
    const client = this.#client;
    return !this.#closed && client !== undefined && client.isReady !== false;
  }

  /** No answer within the deadline: hold calls back until this one is answered either way. */
  #stall(run: Promise<unknown>): void {
    const client = this.#client;
    this.#stalled = true;
    const end = () => {
      if (!this.#stalled || client !== this.#client) return;
      this.#stalled = false;
      if (this.#stallTimer) clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
      this.#onUsable();
    };
    run.then(end, end);
    // The own client's connection that stays silent (a peer gone without a reset, a proxy that
    // lost it) is replaced: its unanswered writes are replayed on the new one, each counted once.
    if (!this.#ownsClient || this.#stallTimer || client === undefined) return;
    const resetMs = Math.max(STALL_RESET_MIN_MS, STALL_RESET_FACTOR * this.#timeoutMs);
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      if (!this.#stalled || client !== this.#client || this.#closed) return;
      // A single client is destroyed at once, and calls fail as not connected until its
      // successor connects. A cluster client stays in use until its successor is connected
      // (#openCluster), and would send to the silent node again: it stays stalled until then.
      if (!this.#clusterUrls) this.#stalled = false;
      this.counters.stallResets++;
      this.#reporter.count(
        'redis_stalled',
        `Redis at ${this.address}: no answer for ${resetMs} ms; reconnecting`,
      );
      this.#scheduleReconnect(client as OwnClient);
    }, resetMs);
    this.#stallTimer.unref();
  }

  #fail(kind: FailureKind, detail: string, sent: boolean): CallResult & { ok: false } {
    if (this.#closed) {
      // A call in flight when the ledger closed (shutdown): not an outage, nothing to warn of.
      this.counters.afterClose++;
      return { ok: false, kind, sent };
    }
    if (kind === 'redis_unavailable') this.counters.redisUnavailable++;
    else if (kind === 'redis_timeout') this.counters.redisTimeout++;
    else this.counters.redisError++;
    this.#reporter.count(kind, `Redis at ${this.address}: ${detail}; ${this.#policy}`);
    return { ok: false, kind, sent };
  }

  /** Creates and connects the own client; on failure schedules a retry. */
  async #open(): Promise<void> {
    if (this.#closed) return;
    if (this.#clusterUrls) return this.#openCluster(this.#clusterUrls);
    let client: OwnClient;
    try {
      // Loaded on first use: applications on the in-memory ledger never load the Redis client.
      const { createClient } = await import('redis');
      client = createClient({
        url: this.#url,
        // Fail fast while disconnected instead of queueing commands for a later connection.
        disableOfflineQueue: true,
        socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: false },
      }) as unknown as OwnClient;
    } catch (err) {
      this.#reporter.count('redis_client_error', String(err));
      return;
    }
    if (this.#closed) return;
    let failed = false;
    const lost = (err: unknown) => {
      if (client !== this.#client || failed) return;
      failed = true;
      this.counters.connectFailures++;
      // One line for an unreachable Redis, whether found at startup, by a lost connection or
      // by a call: the kind the operations that fail are counted under.
      this.#reporter.count(
        'redis_unavailable',
        `Redis at ${this.address} unreachable (${err instanceof Error ? err.message : String(err)}); ${this.#policy}; reconnecting with backoff`,
      );
      this.#scheduleReconnect(client);
    };
    // Errors arrive as events; without a listener node-redis would crash the host.
    client.on('error', (err: unknown) => {
      if (!client.isOpen) lost(err);
    });
    // Before connect: node-redis then creates its socket unref'd.
    client.unref();
    this.#client = client;
    this.#stalled = false;
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    try {
      await client.connect();
    } catch (err) {
      lost(err);
      return;
    }
    if (this.#closed) {
      client.destroy();
      return;
    }
    this.#retries = 0;
    this.counters.connects++;
    if (this.counters.connects > 1) this.#reporter.count('redis_reconnected');
    this.#onUsable();
  }

  /**
   * Creates and connects a new own cluster client from the seed URLs. The first one is used at
   * once (early calls wait for it as for a single client). A later one (a node was lost, or the
   * connection stalled) replaces the current client only once it is connected, so the slots the
   * old client still reaches are served meanwhile; the old one is then closed after its calls.
   */
  async #openCluster(urls: readonly string[]): Promise<void> {
    let cluster: OwnCluster;
    try {
      const { createCluster } = await import('redis');
      cluster = createCluster(clusterOptions(urls) as never) as unknown as OwnCluster;
    } catch (err) {
      this.#reporter.count('redis_client_error', String(err));
      return;
    }
    if (this.#closed) return;
    const sender = new ClusterSender(cluster, true);
    const previous = this.#client instanceof ClusterSender ? this.#client : undefined;
    // Node sockets are unref'd as they connect (node-redis has no cluster-wide unref): a host
    // whose Redis is down, or idle, can still exit.
    const unref = () => {
      for (const node of cluster.nodeByAddress.values()) node.client?.unref();
    };
    cluster.on('node-connect', unref);
    // Errors arrive as events; without a listener node-redis would crash the host. A failed
    // discovery also rejects connect(), which reports it.
    cluster.on('error', () => {});
    cluster.on('node-error', (err: unknown) => {
      if (this.#client === sender) this.#clusterLost(sender, err, 'node');
    });
    if (previous === undefined) this.#client = sender;
    try {
      // Bounded: a seed that accepts connections but never answers must not hold the refresh.
      const connected = await within(cluster.connect(), 2 * CONNECT_TIMEOUT_MS);
      if (connected === TIMEOUT) throw new Error(`no answer within ${2 * CONNECT_TIMEOUT_MS} ms`);
      if (!connected.ok) throw connected.error;
    } catch (err) {
      sender.retire();
      destroyQuietly(cluster);
      this.#clusterLost(this.#client === sender ? sender : undefined, err, 'discovery');
      return;
    }
    unref();
    if (this.#closed) {
      destroyQuietly(cluster);
      return;
    }
    sender.connected();
    this.#client = sender;
    if (previous) {
      previous.retire();
      // Let its calls in flight finish; a hung node's never would, so it is destroyed later.
      const old = previous.cluster as OwnCluster;
      old.close().catch(() => {});
      setTimeout(() => destroyQuietly(old), STALL_RESET_MIN_MS).unref();
    }
    this.#stalled = false;
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    this.counters.connects++;
    if (this.counters.connects > 1) this.#reporter.count('redis_reconnected');
    this.#onUsable();
  }

  /**
   * The own cluster client lost a node (its connection failed: the node crashed, or is
   * unreachable), or a new client could not discover the cluster: report it once and make a new
   * client, with backoff. `current`: the client in use that failed, if it is the one in use.
   */
  #clusterLost(current: ClusterSender | undefined, err: unknown, what: 'node' | 'discovery'): void {
    if (this.#closed) return;
    this.counters.connectFailures++;
    const detail = err instanceof Error ? err.message : String(err);
    this.#reporter.count(
      'redis_unavailable',
      `Redis at ${this.address}: ${what === 'node' ? 'a node is unreachable' : 'cannot discover the cluster'} (${detail}); ${this.#policy}; rediscovering with backoff`,
    );
    // Node failures that keep coming (a master down until its replica takes over) back off
    // further; after a quiet period the next one is retried at once.
    const now = Date.now();
    if (what === 'node' && now - this.#lastNodeLoss > CLUSTER_QUIET_MS) this.#retries = 0;
    this.#lastNodeLoss = now;
    this.#scheduleReconnect(current as unknown as OwnClient);
  }

  #scheduleReconnect(client: OwnClient | undefined): void {
    if (this.#closed || this.#reconnectTimer) return;
    if (this.#clusterUrls) {
      // A cluster client is replaced only once its successor is connected (#openCluster).
      if (client !== undefined && client !== this.#client) return;
    } else {
      if (client === undefined || client !== this.#client) return;
      try {
        client.destroy();
      } catch {
        // Already closed.
      }
    }
    // Exponential backoff with jitter (50 ms doubling to 2 s), so a fleet does not reconnect in
    // lockstep; unref'd so the timer never keeps the host alive.
    const delay = Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.#retries) * (0.5 + Math.random() / 2);
    this.#retries = Math.min(this.#retries + 1, 16);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#firstConnect = undefined;
      void this.#open();
    }, delay);
    this.#reconnectTimer.unref();
  }
}

/** Destroys a cluster client that may be closed already. */
function destroyQuietly(cluster: OwnCluster): void {
  try {
    cluster.destroy();
  } catch {
    // Closed already.
  }
}

/** `p`'s outcome, or TIMEOUT after `ms`. */
async function within<T>(
  p: Promise<T>,
  ms: number,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  // Ref'd on purpose, unlike the socket: a script awaiting an operation must not exit in the
  // middle of it; the timer lives at most `ms` and is cleared with the answer.
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([
      p.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
