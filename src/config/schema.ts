// The single source of truth for the service's configuration: names, types, defaults, limits and
// help text. Environment variables and flags are both parsed through it (defaults < env < flags).
import { z } from 'zod';

export const AUTH_MODES = ['none', 'password', 'mtls'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** NAME:SECRET application credentials, from repeated flags or a comma-separated env var. */
const applicationCredential = z.string().regex(/^[A-Za-z0-9_.-]{1,64}:.{8,}$/, 'must be NAME:SECRET (name 1-64 chars of [A-Za-z0-9_.-], secret at least 8 chars)');
const applicationList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v),
  z.array(applicationCredential),
);

export const ACK_MODES = ['durable', 'received'] as const;
export type AckMode = (typeof ACK_MODES)[number];

export const MTLS_IDENTITIES = ['cn', 'san-uri'] as const;
export type MtlsIdentity = (typeof MTLS_IDENTITIES)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Integers from env vars and flags: decimal digits only, so a blank or "1e3" is an error, not 0 or 1000. */
function toInteger(v: unknown): unknown {
  return typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
}
export function int(n: z.ZodNumber = z.number()): z.ZodType<number, unknown> {
  return z.preprocess(toInteger, n.int({ error: 'must be an integer' })) as unknown as z.ZodType<number, unknown>;
}
const port = int(z.number().min(0).max(65535));
const positiveInt = int(z.number().positive());
/** Booleans from env vars and flags: true/false, 1/0, yes/no. */
export const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform(
  (v) => v === true || v === 'true' || v === '1' || v === 'yes',
);

export interface SettingSpec {
  readonly key: string;
  readonly flag: string;
  readonly env: string;
  readonly kind: 'string' | 'boolean';
  readonly help: string;
  readonly secret?: boolean;
  /** Placeholder in --help (default VALUE), e.g. N, URL, MS. */
  readonly value?: string;
  /** A string setting that may be given several times (flag repeated, or comma-separated env). */
  readonly repeatable?: boolean;
}

/** Every setting: its config key, CLI flag, env var and help line (schema below gives types/defaults). */
export const SERVE_SETTINGS: readonly SettingSpec[] = [
  { key: 'mqttHost', flag: 'mqtt-host', env: 'MQTT_HOST', kind: 'string', help: 'Address the MQTT listener binds. Default: 127.0.0.1 with --auth none (unless --allow-anonymous-remote), else 0.0.0.0.' },
  { key: 'mqttPort', flag: 'mqtt-port', env: 'MQTT_PORT', kind: 'string', help: 'MQTT TCP port (0 = pick a free one).' },
  { key: 'httpHost', flag: 'http-host', env: 'HTTP_HOST', kind: 'string', help: 'Address the HTTP listener binds. Default: 127.0.0.1 without an API token (unless --allow-anonymous-remote), else 0.0.0.0.' },
  { key: 'mqttTcp', flag: 'mqtt-tcp', env: 'MQTT_TCP', kind: 'boolean', help: 'Serve MQTT over plain TCP on --mqtt-port (--no-mqtt-tcp: only TLS/WebSocket listeners).' },
  { key: 'auth', flag: 'auth', env: 'MQTT_AUTH', kind: 'string', help: 'How MQTT clients authenticate: none (identity = client id), password (username = device id, password = its secret from the registry) or mtls. Per-listener overrides below.' },
  { key: 'tlsPort', flag: 'tls-port', env: 'MQTT_TLS_PORT', kind: 'string', help: 'MQTT over TLS port (usually 8883). Unset: no TLS listener. Needs --tls-cert and --tls-key.' },
  { key: 'tlsCert', flag: 'tls-cert', env: 'TLS_CERT_FILE', kind: 'string', help: 'PEM server certificate (chain) for the TLS and WSS listeners; re-read on SIGHUP.' },
  { key: 'tlsKey', flag: 'tls-key', env: 'TLS_KEY_FILE', kind: 'string', help: 'PEM private key of --tls-cert; re-read on SIGHUP.' },
  { key: 'tlsCa', flag: 'tls-ca', env: 'TLS_CA_FILE', kind: 'string', help: 'PEM CA bundle that client certificates must chain to (mtls, --tls-require-client-cert); re-read on SIGHUP.' },
  { key: 'tlsRequireClientCert', flag: 'tls-require-client-cert', env: 'TLS_REQUIRE_CLIENT_CERT', kind: 'boolean', help: 'TLS/WSS: refuse the handshake without a client certificate signed by --tls-ca (always on for auth mtls).' },
  { key: 'tlsAuth', flag: 'tls-auth', env: 'MQTT_TLS_AUTH', kind: 'string', help: 'Auth mode of the TLS listener (default: --auth).' },
  { key: 'wsPort', flag: 'ws-port', env: 'MQTT_WS_PORT', kind: 'string', help: 'MQTT over WebSocket port (usually 8083). Unset: no WebSocket listener.' },
  { key: 'wsAuth', flag: 'ws-auth', env: 'MQTT_WS_AUTH', kind: 'string', help: 'Auth mode of the WebSocket listener (default: --auth; mtls is not possible without TLS).' },
  { key: 'wssPort', flag: 'wss-port', env: 'MQTT_WSS_PORT', kind: 'string', help: 'MQTT over secure WebSocket port (usually 8084). Unset: no WSS listener. Uses --tls-cert/--tls-key.' },
  { key: 'wssAuth', flag: 'wss-auth', env: 'MQTT_WSS_AUTH', kind: 'string', help: 'Auth mode of the WSS listener (default: --auth).' },
  { key: 'wsPath', flag: 'ws-path', env: 'MQTT_WS_PATH', kind: 'string', help: 'HTTP path of the WebSocket and WSS listeners.' },
  { key: 'mtlsIdentity', flag: 'mtls-identity', env: 'MTLS_IDENTITY', kind: 'string', help: 'Where mtls takes the device id from: cn (certificate subject CN) or san-uri (a SAN URI starting with --mtls-san-uri-prefix).' },
  { key: 'mtlsSanUriPrefix', flag: 'mtls-san-uri-prefix', env: 'MTLS_SAN_URI_PREFIX', kind: 'string', help: 'With --mtls-identity san-uri: the device id is the rest of the first SAN URI with this prefix.' },
  { key: 'maxPacketBytes', flag: 'max-packet-bytes', env: 'MAX_PACKET_BYTES', kind: 'string', help: 'Largest MQTT packet, checked from its header before the body is read (default: --max-payload-bytes + 64 KiB, the largest MQTT header).' },
  { key: 'maxBufferedBytes', flag: 'max-buffered-bytes', env: 'MAX_BUFFERED_BYTES', kind: 'string', help: 'Bytes the broker may hold for one connection that its client has not read; beyond it the connection is closed.' },
  { key: 'maxConnections', flag: 'max-connections', env: 'MAX_CONNECTIONS', kind: 'string', help: 'Open MQTT connections in total (all listeners); more are closed at accept.' },
  { key: 'maxConnectionsPerIp', flag: 'max-connections-per-ip', env: 'MAX_CONNECTIONS_PER_IP', kind: 'string', help: 'Open MQTT connections from one source address.' },
  { key: 'maxConnectsPerIpPerSecond', flag: 'max-connects-per-ip-per-second', env: 'MAX_CONNECTS_PER_IP_PER_SECOND', kind: 'string', help: 'CONNECT packets accepted from one source address per second; more are closed unanswered.' },
  { key: 'connectTimeoutMs', flag: 'connect-timeout-ms', env: 'CONNECT_TIMEOUT_MS', kind: 'string', help: 'Time from TCP accept to CONNECT before the connection is closed.' },
  { key: 'maxKeepaliveSeconds', flag: 'max-keepalive-seconds', env: 'MAX_KEEPALIVE_SECONDS', kind: 'string', help: 'Largest keepalive a client may ask for; more is refused with CONNACK 2.' },
  { key: 'allowKeepaliveZero', flag: 'allow-keepalive-zero', env: 'ALLOW_KEEPALIVE_ZERO', kind: 'boolean', help: 'Accept keepalive 0 (a connection that is never timed out). Refused with CONNACK 2 otherwise.' },
  { key: 'maxClientIdLength', flag: 'max-client-id-length', env: 'MAX_CLIENT_ID_LENGTH', kind: 'string', help: 'Longest client id (characters); longer is refused with CONNACK 2.' },
  { key: 'maxTopicBytes', flag: 'max-topic-bytes', env: 'MAX_TOPIC_BYTES', kind: 'string', help: 'Longest PUBLISH topic in bytes; longer closes the connection.' },
  { key: 'maxTopicLevels', flag: 'max-topic-levels', env: 'MAX_TOPIC_LEVELS', kind: 'string', help: 'Most levels (parts between /) in a PUBLISH topic; more closes the connection.' },
  { key: 'drainTimeoutMs', flag: 'drain-timeout-ms', env: 'DRAIN_TIMEOUT_MS', kind: 'string', help: 'A client that does not read what the broker sends for this long is disconnected (slow consumer).' },
  { key: 'maxMessagesPerSecond', flag: 'max-messages-per-second', env: 'MAX_MESSAGES_PER_SECOND', kind: 'string', help: 'PUBLISH packets per second per device (token bucket, burst of one second); over it the device is held.' },
  { key: 'maxReadingsPerSecond', flag: 'max-readings-per-second', env: 'MAX_READINGS_PER_SECOND', kind: 'string', help: 'Readings per second per device (token bucket, burst of one second); over it the device is held.' },
  { key: 'maxRateHoldMs', flag: 'max-rate-hold-ms', env: 'MAX_RATE_HOLD_MS', kind: 'string', help: 'Longest a device over its rate is held; a message that would wait longer closes the connection.' },
  { key: 'httpPort', flag: 'http-port', env: 'HTTP_PORT', kind: 'string', help: 'HTTP port for /metrics, /healthz, /readyz and the read API (0 = pick).' },
  { key: 'allowAnonymousRemote', flag: 'allow-anonymous-remote', env: 'ALLOW_ANONYMOUS_REMOTE', kind: 'boolean', help: 'Let listeners without credentials (MQTT with --auth none, HTTP without --api-token) bind beyond loopback.' },
  { key: 'applications', flag: 'application', env: 'MQTT_APPLICATIONS', kind: 'string', repeatable: true, secret: true, help: 'Application credential NAME:SECRET (repeatable; env: comma-separated). An application may subscribe to telemetry and publish commands.' },
  { key: 'applicationsFile', flag: 'applications-file', env: 'MQTT_APPLICATIONS_FILE', kind: 'string', help: 'File of application credentials, one NAME:SECRET per line (# comments).' },
  { key: 'devicesTableName', flag: 'devices-table', env: 'DEVICES_TABLE_NAME', kind: 'string', help: 'Device registry table (deviceId HASH): status, secret hashes, attributes.' },
  { key: 'authCacheTtlMs', flag: 'auth-cache-ttl-ms', env: 'AUTH_CACHE_TTL_MS', kind: 'string', help: 'How long a device record is trusted before it is read again; also the period of the sweep that closes revoked devices\' connections.' },
  { key: 'authCacheMaxEntries', flag: 'auth-cache-max-entries', env: 'AUTH_CACHE_MAX_ENTRIES', kind: 'string', help: 'Device records and verified secrets kept in memory (each an LRU).' },
  { key: 'authMaxPendingHashChecks', flag: 'auth-max-pending-hash-checks', env: 'AUTH_MAX_PENDING_HASH_CHECKS', kind: 'string', help: 'scrypt checks queued at most; beyond it CONNECTs are refused (server unavailable) until the queue shrinks.' },
  { key: 'authFailuresBeforeLockout', flag: 'auth-failures-before-lockout', env: 'AUTH_FAILURES_BEFORE_LOCKOUT', kind: 'string', help: 'Failed authentications from one source address before it is locked out.' },
  { key: 'authLockoutBaseMs', flag: 'auth-lockout-base-ms', env: 'AUTH_LOCKOUT_BASE_MS', kind: 'string', help: 'First lock-out; each further failure doubles it.' },
  { key: 'authLockoutMaxMs', flag: 'auth-lockout-max-ms', env: 'AUTH_LOCKOUT_MAX_MS', kind: 'string', help: 'Longest lock-out; a source quiet this long starts again from zero failures.' },
  { key: 'takeoverIntervalMs', flag: 'takeover-interval-ms', env: 'TAKEOVER_INTERVAL_MS', kind: 'string', help: 'Shortest time between two session takeovers of one client id (a second CONNECT with a live id).' },
  { key: 'apiToken', flag: 'api-token', env: 'API_TOKEN', kind: 'string', secret: true, help: 'Bearer token the read API and admin endpoints require (/healthz, /readyz stay open).' },
  { key: 'apiTokenFile', flag: 'api-token-file', env: 'API_TOKEN_FILE', kind: 'string', help: 'File holding the API bearer token (instead of --api-token).' },
  { key: 'metricsAuth', flag: 'metrics-auth', env: 'METRICS_AUTH', kind: 'boolean', help: 'Require the API token on /metrics too.' },
  { key: 'dynamodbEndpoint', flag: 'dynamodb-endpoint', env: 'DYNAMODB_ENDPOINT', kind: 'string', help: 'DynamoDB-API endpoint (DynamoDB Local, LocalStack). Unset: embedded server, or AWS with --no-embedded.' },
  { key: 'embedded', flag: 'embedded', env: 'EMBEDDED_DYNAMODB', kind: 'boolean', help: 'Start the embedded DynamoDB-API server (dynalite) when no endpoint is set. --no-embedded uses AWS.' },
  { key: 'embeddedPort', flag: 'embedded-port', env: 'EMBEDDED_DYNAMODB_PORT', kind: 'string', help: 'Port of the embedded DynamoDB-API server (0 = pick).' },
  { key: 'storeProbeIntervalMs', flag: 'store-probe-interval-ms', env: 'STORE_PROBE_INTERVAL_MS', kind: 'string', help: 'How often the store is probed (DescribeTable, timeout --request-timeout-ms; two failures in a row = unreachable) for /readyz and iot_ingest_store_up.' },
  { key: 'dataDir', flag: 'data-dir', env: 'DATA_DIR', kind: 'string', help: 'Where the embedded server keeps its data.' },
  { key: 'region', flag: 'region', env: 'AWS_REGION', kind: 'string', help: 'AWS region.' },
  { key: 'tableName', flag: 'table', env: 'TABLE_NAME', kind: 'string', help: 'Telemetry table (deviceId HASH, ts RANGE).' },
  { key: 'dlqTableName', flag: 'dlq-table', env: 'DLQ_TABLE_NAME', kind: 'string', help: 'Dead-letter table.' },
  { key: 'commandsTableName', flag: 'commands-table', env: 'COMMANDS_TABLE_NAME', kind: 'string', help: 'Commands table (deviceId HASH, commandId RANGE; TTL on purgeAt).' },
  { key: 'deadLetterMaxInflight', flag: 'dead-letter-max-inflight', env: 'DEAD_LETTER_MAX_INFLIGHT', kind: 'string', help: 'Dead-letter writes in flight at most; when full, QoS 1 invalid messages wait (backpressure), QoS 0 ones are dropped and counted.' },
  { key: 'createTable', flag: 'create-table', env: 'CREATE_TABLE', kind: 'boolean', help: 'Create the tables at start-up when missing (--no-create-table to only check).' },
  { key: 'retentionDays', flag: 'retention-days', env: 'RETENTION_DAYS', kind: 'string', help: 'Keep readings this many days (writes expiresAt, enables TTL). Unset: keep forever.' },
  { key: 'ackMode', flag: 'ack-mode', env: 'ACK_MODE', kind: 'string', help: 'durable: PUBACK after the reading is stored; received: PUBACK on receipt.' },
  { key: 'batchSize', flag: 'batch-size', env: 'BATCH_SIZE', kind: 'string', help: 'Readings per BatchWriteItem (1-25).' },
  { key: 'lingerMs', flag: 'linger-ms', env: 'LINGER_MS', kind: 'string', help: 'Longest a reading waits for its batch to fill.' },
  { key: 'adaptiveFlush', flag: 'adaptive-flush', env: 'ADAPTIVE_FLUSH', kind: 'boolean', help: 'Send a partial batch at once when no write is in flight (low latency when idle; batches fill under load). --no-adaptive-flush: always linger.' },
  { key: 'writeConcurrency', flag: 'write-concurrency', env: 'WRITE_CONCURRENCY', kind: 'string', help: 'BatchWriteItem requests in flight at most (the adaptive limit\'s ceiling).' },
  { key: 'writeConcurrencyMin', flag: 'write-concurrency-min', env: 'WRITE_CONCURRENCY_MIN', kind: 'string', help: 'Floor of the adaptive write concurrency (halved on throttling, never below this; capped at --write-concurrency).' },
  { key: 'slowWriteMs', flag: 'slow-write-ms', env: 'SLOW_WRITE_MS', kind: 'string', help: 'A BatchWriteItem answered slower than this counts as DynamoDB pushing back: the adaptive write concurrency halves, as on throttling.' },
  { key: 'maxQueuedReadings', flag: 'max-queued-readings', env: 'MAX_QUEUED_READINGS', kind: 'string', help: 'Queue bound in readings; beyond it devices are held (backpressure).' },
  { key: 'maxQueuedBytes', flag: 'max-queued-bytes', env: 'MAX_QUEUED_BYTES', kind: 'string', help: 'Queue bound in bytes; beyond it devices are held (backpressure).' },
  { key: 'maxHeldMessages', flag: 'max-held-messages', env: 'MAX_HELD_MESSAGES', kind: 'string', help: 'Telemetry messages queued for the store at once awaiting their PUBACK; at this many the broker stops reading from device connections until some are released (the rest wait in TCP buffers, not in memory).' },
  { key: 'maxHoldMs', flag: 'max-hold-ms', env: 'MAX_HOLD_MS', kind: 'string', help: 'Longest a message waits for queue space before its connection is closed unacknowledged.' },
  { key: 'writeTimeoutMs', flag: 'write-timeout-ms', env: 'WRITE_TIMEOUT_MS', kind: 'string', help: 'Retry budget of one batch (throttling, outages) before it fails and devices resend.' },
  { key: 'writerThread', flag: 'writer-thread', env: 'WRITER_THREAD', kind: 'boolean', help: 'Run the DynamoDB client on a worker thread, off the broker\'s event loop (--no-writer-thread: same thread).' },
  { key: 'requestTimeoutMs', flag: 'request-timeout-ms', env: 'REQUEST_TIMEOUT_MS', kind: 'string', help: 'Timeout of one DynamoDB request.' },
  { key: 'maxPayloadBytes', flag: 'max-payload-bytes', env: 'MAX_PAYLOAD_BYTES', kind: 'string', help: 'Largest accepted payload.' },
  { key: 'maxReadingsPerMessage', flag: 'max-readings-per-message', env: 'MAX_READINGS_PER_MESSAGE', kind: 'string', help: 'Most readings in one array payload.' },
  { key: 'maxAttributesPerReading', flag: 'max-attributes', env: 'MAX_ATTRIBUTES', kind: 'string', help: 'Most attributes in one reading.' },
  { key: 'maxDepth', flag: 'max-depth', env: 'MAX_DEPTH', kind: 'string', help: 'Deepest nesting of objects/arrays in a value.' },
  { key: 'maxFutureSkewMs', flag: 'max-future-skew-ms', env: 'MAX_FUTURE_SKEW_MS', kind: 'string', help: 'Readings further ahead of the server clock are invalid.' },
  { key: 'maxItemBytes', flag: 'max-item-bytes', env: 'MAX_ITEM_BYTES', kind: 'string', help: 'Largest item (DynamoDB allows 400 KB).' },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout-ms', env: 'SHUTDOWN_TIMEOUT_MS', kind: 'string', help: 'Deadline for flushing on SIGTERM.' },
  { key: 'replicaId', flag: 'replica-id', env: 'REPLICA_ID', kind: 'string', help: 'Name of this replica in presence records (default: hostname:pid).' },
  { key: 'presenceFlushMs', flag: 'presence-flush-ms', env: 'PRESENCE_FLUSH_MS', kind: 'string', help: 'Connects and disconnects reach the registry within this interval (coalesced writes).' },
  { key: 'presenceSeenIntervalMs', flag: 'presence-seen-interval-ms', env: 'PRESENCE_SEEN_INTERVAL_MS', kind: 'string', help: 'Last-seen time and latest reading are written at most this often per device.' },
  { key: 'liveMaxSubscribers', flag: 'live-max-subscribers', env: 'LIVE_MAX_SUBSCRIBERS', kind: 'string', help: 'Server-Sent Events streams open at once (beyond: 503).' },
  { key: 'liveStreamMaxEventsPerSecond', flag: 'live-stream-max-events-per-second', env: 'LIVE_STREAM_MAX_EVENTS_PER_SECOND', kind: 'string', help: 'Rate bound of the all-devices stream GET /stream, per client (beyond: skipped, counted).' },
  { key: 'liveMaxBufferedBytes', flag: 'live-max-buffered-bytes', env: 'LIVE_MAX_BUFFERED_BYTES', kind: 'string', help: 'Unsent bytes a live subscriber (SSE or MQTT) may have before its readings are skipped.' },
  { key: 'workers', flag: 'workers', env: 'WORKERS', kind: 'string', help: 'Broker processes on this machine sharing the listeners (node:cluster); auto = one per core. Metrics and /readyz cover all of them.' },
  { key: 'proxyProtocol', flag: 'proxy-protocol', env: 'MQTT_PROXY_PROTOCOL', kind: 'boolean', help: 'The MQTT listener expects a PROXY protocol v1/v2 header (HAProxy send-proxy-v2) and takes the device address from it. Only behind a balancer.' },
  { key: 'clusterRedisUrl', flag: 'cluster', env: 'CLUSTER_REDIS_URL', kind: 'string', secret: true, help: 'Cluster mode: redis://host:port shared by replicas for cross-node MQTT delivery and persistent sessions (mqemitter-redis, aedes-persistence-redis).' },
  { key: 'logLevel', flag: 'log-level', env: 'LOG_LEVEL', kind: 'string', help: 'fatal, error, warn, info, debug, trace or silent.' },
];

export const serveConfigSchema = z
  .object({
    mqttHost: z.string().min(1).optional(),
    mqttPort: port.default(1883),
    httpHost: z.string().min(1).optional(),
    mqttTcp: bool.default(true),
    auth: z.enum(AUTH_MODES).default('none'),
    tlsPort: port.optional(),
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    tlsCa: z.string().min(1).optional(),
    tlsRequireClientCert: bool.default(false),
    tlsAuth: z.enum(AUTH_MODES).optional(),
    wsPort: port.optional(),
    wsAuth: z.enum(AUTH_MODES).optional(),
    wssPort: port.optional(),
    wssAuth: z.enum(AUTH_MODES).optional(),
    wsPath: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'must be a path starting with /').default('/mqtt'),
    mtlsIdentity: z.enum(MTLS_IDENTITIES).default('cn'),
    mtlsSanUriPrefix: z.string().min(1).default('urn:iot-ingest:device:'),
    maxPacketBytes: int(z.number().min(64).max(256 * 1024 * 1024)).optional(),
    maxBufferedBytes: int(z.number().min(1024)).default(1024 * 1024),
    maxConnections: positiveInt.default(20_000),
    maxConnectionsPerIp: positiveInt.default(1_000),
    maxConnectsPerIpPerSecond: positiveInt.default(100),
    connectTimeoutMs: positiveInt.default(10_000),
    maxKeepaliveSeconds: int(z.number().positive().max(65535)).default(1200),
    allowKeepaliveZero: bool.default(false),
    maxClientIdLength: int(z.number().positive().max(65535)).default(128),
    maxTopicBytes: int(z.number().positive().max(65535)).default(256),
    maxTopicLevels: int(z.number().positive().max(100)).default(8),
    drainTimeoutMs: positiveInt.default(30_000),
    maxMessagesPerSecond: positiveInt.default(100),
    maxReadingsPerSecond: positiveInt.default(1_000),
    maxRateHoldMs: positiveInt.default(5_000),
    httpPort: port.default(9464),
    allowAnonymousRemote: bool.default(false),
    applications: applicationList.default([]),
    applicationsFile: z.string().min(1).optional(),
    devicesTableName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be 3-255 chars of [A-Za-z0-9_.-]').default('devices'),
    authCacheTtlMs: int(z.number().min(100).max(3_600_000)).default(5_000),
    authCacheMaxEntries: int(z.number().min(100).max(10_000_000)).default(100_000),
    authMaxPendingHashChecks: int(z.number().min(1).max(1_000_000)).default(10_000),
    authFailuresBeforeLockout: int(z.number().min(1).max(1_000_000)).default(10),
    authLockoutBaseMs: int(z.number().min(1).max(86_400_000)).default(1_000),
    authLockoutMaxMs: int(z.number().min(1).max(86_400_000)).default(300_000),
    takeoverIntervalMs: int(z.number().min(0).max(3_600_000)).default(1_000),
    apiToken: z.string().min(16, 'must be at least 16 characters').optional(),
    apiTokenFile: z.string().min(1).optional(),
    metricsAuth: bool.default(false),
    dynamodbEndpoint: z.url({ protocol: /^https?$/ }).optional(),
    embedded: bool.default(true),
    embeddedPort: port.default(4567),
    storeProbeIntervalMs: int(z.number().min(100).max(60_000)).default(2_000),
    dataDir: z.string().min(1).default('./data'),
    region: z.string().min(1).default('us-east-1'),
    tableName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be 3-255 chars of [A-Za-z0-9_.-]').default('telemetry'),
    dlqTableName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be 3-255 chars of [A-Za-z0-9_.-]').default('telemetry_dlq'),
    commandsTableName: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be 3-255 chars of [A-Za-z0-9_.-]').default('commands'),
    deadLetterMaxInflight: int(z.number().positive().max(1024)).default(32),
    createTable: bool.default(true),
    retentionDays: int(z.number().positive().max(36500)).optional(),
    ackMode: z.enum(ACK_MODES).default('durable'),
    batchSize: int(z.number().positive().max(25, 'must be <= 25 (DynamoDB BatchWriteItem limit)')).default(25),
    lingerMs: int(z.number().min(0).max(10_000)).default(20),
    adaptiveFlush: bool.default(true),
    writeConcurrency: int(z.number().positive().max(256)).default(16),
    writeConcurrencyMin: int(z.number().positive().max(256)).default(2),
    slowWriteMs: positiveInt.default(1_000),
    maxQueuedReadings: positiveInt.default(20_000),
    maxQueuedBytes: positiveInt.default(64 * 1024 * 1024),
    maxHeldMessages: positiveInt.default(1_000),
    maxHoldMs: positiveInt.default(30_000),
    writeTimeoutMs: positiveInt.default(30_000),
    writerThread: bool.default(true),
    requestTimeoutMs: positiveInt.default(5_000),
    maxPayloadBytes: int(z.number().positive().max(256 * 1024 * 1024)).default(128 * 1024),
    maxReadingsPerMessage: positiveInt.default(500),
    maxAttributesPerReading: int(z.number().positive().max(10_000)).default(100),
    maxDepth: int(z.number().positive().max(32)).default(8),
    maxFutureSkewMs: int(z.number().min(0)).default(5 * 60_000),
    maxItemBytes: int(z.number().positive().max(400 * 1024, 'must be <= 409600 (DynamoDB item limit)')).default(400_000),
    shutdownTimeoutMs: positiveInt.default(30_000),
    replicaId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 chars of [A-Za-z0-9_.:-]').optional(),
    presenceFlushMs: int(z.number().min(10).max(600_000)).default(1_000),
    presenceSeenIntervalMs: int(z.number().min(100).max(86_400_000)).default(60_000),
    liveMaxSubscribers: int(z.number().min(1).max(100_000)).default(100),
    liveStreamMaxEventsPerSecond: int(z.number().min(1).max(100_000)).default(200),
    liveMaxBufferedBytes: int(z.number().min(1024).max(1024 * 1024 * 1024)).default(1024 * 1024),
    workers: z.union([z.literal('auto'), int(z.number().min(1).max(256))]).default(1),
    proxyProtocol: bool.default(false),
    clusterRedisUrl: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
    logLevel: z.enum(LOG_LEVELS).default('info'),
  })
  .superRefine((c, ctx) => {
    if (c.maxReadingsPerMessage > c.maxQueuedReadings) {
      ctx.addIssue({ code: 'custom', path: ['maxReadingsPerMessage'], message: `must be <= maxQueuedReadings (${c.maxQueuedReadings})` });
    }
    if (c.maxPayloadBytes * 2 > c.maxQueuedBytes) {
      ctx.addIssue({ code: 'custom', path: ['maxQueuedBytes'], message: `must be at least twice maxPayloadBytes (${c.maxPayloadBytes})` });
    }
    checkExposure(c, ctx);
    if ([c.tableName, c.dlqTableName, c.devicesTableName].includes(c.commandsTableName)) {
      ctx.addIssue({ code: 'custom', path: ['commandsTableName'], message: 'must differ from the telemetry, dead-letter and devices tables' });
    }
    if ([c.tableName, c.dlqTableName].includes(c.devicesTableName)) {
      ctx.addIssue({ code: 'custom', path: ['devicesTableName'], message: 'must differ from the telemetry and dead-letter tables' });
    }
    const tlsListeners = [['tlsPort', c.tlsPort], ['wssPort', c.wssPort]] as const;
    for (const [key, value] of tlsListeners) {
      if (value === undefined) continue;
      if (c.tlsCert === undefined) ctx.addIssue({ code: 'custom', path: ['tlsCert'], message: `is required with ${key === 'tlsPort' ? '--tls-port' : '--wss-port'}` });
      if (c.tlsKey === undefined) ctx.addIssue({ code: 'custom', path: ['tlsKey'], message: `is required with ${key === 'tlsPort' ? '--tls-port' : '--wss-port'}` });
    }
    const modes = [c.tlsPort !== undefined ? (c.tlsAuth ?? c.auth) : undefined, c.wssPort !== undefined ? (c.wssAuth ?? c.auth) : undefined];
    if ((c.tlsRequireClientCert || modes.includes('mtls')) && c.tlsCa === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tlsCa'], message: 'is required for client certificates (auth mtls or --tls-require-client-cert)' });
    }
    if ((c.wsAuth ?? c.auth) === 'mtls' && c.wsPort !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['wsAuth'], message: 'mtls needs TLS: use --wss-port, or give the WebSocket listener --ws-auth none|password' });
    }
    if (c.mqttTcp && c.auth === 'mtls') {
      ctx.addIssue({ code: 'custom', path: ['auth'], message: 'mtls needs TLS: disable plain TCP with --no-mqtt-tcp, or set --auth for TCP and --tls-auth mtls' });
    }
    if (!c.mqttTcp && c.tlsPort === undefined && c.wsPort === undefined && c.wssPort === undefined) {
      ctx.addIssue({ code: 'custom', path: ['mqttTcp'], message: 'every MQTT listener is disabled: enable one (--mqtt-tcp, --tls-port, --ws-port or --wss-port)' });
    }
    const packetBytes = c.maxPacketBytes ?? c.maxPayloadBytes + 64 * 1024;
    if (packetBytes < c.maxTopicBytes + 16) {
      ctx.addIssue({ code: 'custom', path: ['maxPacketBytes'], message: `must leave room for a topic of --max-topic-bytes (${c.maxTopicBytes})` });
    }
    if (c.tableName === c.dlqTableName) {
      ctx.addIssue({ code: 'custom', path: ['dlqTableName'], message: 'must differ from the telemetry table' });
    }
  });

export type ServeConfig = z.infer<typeof serveConfigSchema>;

/** Whether `host` is a loopback address (only this machine can reach a listener bound to it). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

interface ExposureSettings {
  readonly auth: AuthMode;
  readonly mqttTcp?: boolean;
  readonly tlsPort?: number | undefined;
  readonly tlsAuth?: AuthMode | undefined;
  readonly wsPort?: number | undefined;
  readonly wsAuth?: AuthMode | undefined;
  readonly wssPort?: number | undefined;
  readonly wssAuth?: AuthMode | undefined;
  readonly allowAnonymousRemote: boolean;
  readonly mqttHost?: string | undefined;
  readonly httpHost?: string | undefined;
  readonly apiToken?: string | undefined;
  readonly apiTokenFile?: string | undefined;
  readonly metricsAuth: boolean;
  readonly authLockoutBaseMs: number;
  readonly authLockoutMaxMs: number;
}

/** Whether some enabled MQTT listener takes clients without credentials (its auth mode is none). */
export function hasAnonymousListener(c: ExposureSettings): boolean {
  const modes = [
    c.mqttTcp === false ? undefined : c.auth,
    c.tlsPort === undefined ? undefined : c.tlsAuth ?? c.auth,
    c.wsPort === undefined ? undefined : c.wsAuth ?? c.auth,
    c.wssPort === undefined ? undefined : c.wssAuth ?? c.auth,
  ];
  return modes.includes('none');
}

/** Safe defaults: nothing without credentials listens beyond loopback unless the operator says so. */
function checkExposure(c: ExposureSettings, ctx: z.RefinementCtx): void {
  const hasToken = c.apiToken !== undefined || c.apiTokenFile !== undefined;
  if (hasAnonymousListener(c) && !c.allowAnonymousRemote && c.mqttHost !== undefined && !isLoopback(c.mqttHost)) {
    ctx.addIssue({ code: 'custom', path: ['mqttHost'], message: 'with a listener in auth mode none the MQTT listeners bind to loopback only: use --auth password (or mtls) on every listener, or --allow-anonymous-remote to accept anonymous clients from the network' });
  }
  if (!hasToken && !c.allowAnonymousRemote && c.httpHost !== undefined && !isLoopback(c.httpHost)) {
    ctx.addIssue({ code: 'custom', path: ['httpHost'], message: 'without an API token the HTTP listener binds to loopback only: set --api-token (or --api-token-file), or --allow-anonymous-remote' });
  }
  if (c.apiToken !== undefined && c.apiTokenFile !== undefined) ctx.addIssue({ code: 'custom', path: ['apiTokenFile'], message: 'give the API token once: --api-token or --api-token-file, not both' });
  if (c.metricsAuth && !hasToken) ctx.addIssue({ code: 'custom', path: ['metricsAuth'], message: 'needs an API token (--api-token or --api-token-file)' });
  if (c.authLockoutBaseMs > c.authLockoutMaxMs) ctx.addIssue({ code: 'custom', path: ['authLockoutBaseMs'], message: `must be <= authLockoutMaxMs (${c.authLockoutMaxMs})` });
}

/** The addresses the listeners bind: loopback unless credentials are required or remote anonymous access is allowed. */
export function bindHosts(c: ExposureSettings): { mqttHost: string; httpHost: string } {
  const anyHost = '0.0.0.0';
  const mqttOpen = !hasAnonymousListener(c) || c.allowAnonymousRemote;
  const httpOpen = c.apiToken !== undefined || c.apiTokenFile !== undefined || c.allowAnonymousRemote;
  return { mqttHost: c.mqttHost ?? (mqttOpen ? anyHost : '127.0.0.1'), httpHost: c.httpHost ?? (httpOpen ? anyHost : '127.0.0.1') };
}
