/**
 * The HTTP surface: the app page and its assets, `/healthz`, `/metrics`,
 * and the `/ws` upgrade with its origin check. This is the one place that
 * adapts a Deno WebSocket to the hub's {@linkcode Connection}.
 *
 * @module
 */

import { DEFAULTS } from "./config.ts";
import type { Hub, Session } from "./hub.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import { isValidChannel } from "./protocol.ts";
import { addressGroup } from "./rate_limit.ts";
import { type AssetTable, serveAsset } from "./static.ts";
import { CLOSE_CODES, isDeliberateCode } from "./wire.ts";

/** Options for {@linkcode createHandler}. */
export interface HandlerOptions {
  /** Origins besides the page's own that may open `/ws`. Default none. */
  allowedOrigins?: string[];
  /**
   * The origin the server is reached at. When set, Origin must equal it
   * (or be in `allowedOrigins`) and Host must be its host. Default unset:
   * Origin's host must equal Host.
   */
  publicOrigin?: string;
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. Default: open. */
  metricsToken?: string;
  /** Serving over TLS: adds HSTS. Default false. */
  tls?: boolean;
  /** Open and opening WebSockets in all; more get 503. Default 10,000. */
  maxConnections?: number;
  /** Open and opening WebSockets from one client address; more get 429. Default 50. */
  maxConnectionsPerAddress?: number;
  /**
   * A front proxy sets `X-Forwarded-For`: the client address is its last
   * entry. Only set this when every request comes through that proxy, or
   * anyone can claim any address. Default false (the TCP peer address).
   */
  trustProxy?: boolean;
  /** Seconds without a pong before Deno drops a socket. Default 30. */
  idleTimeoutSeconds?: number;
  /** Default: writes nothing. */
  logger?: Logger;
  /** Clock for `/healthz` uptime, in ms. Default `Date.now`. */
  now?: () => number;
}

const APP_PAGE = "/index.html";

/** Headers on the HTML page: no framing, no third-party anything. */
const PAGE_HEADERS = {
  "content-security-policy": [
    "default-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join("; "),
  "cross-origin-opener-policy": "same-origin",
  "referrer-policy": "no-referrer",
  "permissions-policy": "camera=(self), microphone=(self), display-capture=(self)",
};

function text(
  status: number,
  body: string,
  headers: HeadersInit = {},
): Response {
  return new Response(body + "\n", {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      ...headers,
    },
  });
}

/**
 * A Host header that is a plain `name[:port]` or `[v6][:port]`. Anything
 * else (a path, a query, spaces) would make Deno's `request.url` lie about
 * the path, so it is refused before routing.
 */
const HOST_HEADER =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** Whether `host` is a well-formed Host header value. */
export function isValidHostHeader(host: string): boolean {
  return HOST_HEADER.test(host);
}

/** Whether `url` (a request's, absolute) is exactly the socket path `/ws`, with no query. */
function isSocketPath(url: string): boolean {
  return url.endsWith("/ws") && url.indexOf("/", url.indexOf("//") + 2) === url.length - 3;
}

/** Whether `origin` may open a socket on a server reached as `host`. */
export function isOriginAllowed(
  origin: string | null,
  { host, allowed, publicOrigin }: {
    host: string | null;
    allowed: readonly string[];
    publicOrigin?: string;
  },
): boolean {
  // Non-browser clients send no Origin; cross-site hijacking needs a browser.
  if (origin === null) return true;
  // The page's own origin, as browsers send it: no URL to parse (once per socket).
  if (
    publicOrigin === undefined && host !== null && origin.endsWith(host) &&
    (origin === `http://${host}` || origin === `https://${host}`)
  ) return true;
  if (allowed.includes(origin)) return true;
  // Known public origin: scheme and host must both match it.
  if (publicOrigin !== undefined) return origin === publicOrigin;
  try {
    // Compare host only: behind a TLS-terminating proxy the scheme differs.
    return host !== null && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * Whether a socket close was the client leaving on purpose: a close
 * handshake with 1000 (the Leave button), 1001 (tab closed) or no code at
 * all (1005, `ws.close()`). A dropped network shows as 1006; Deno closes
 * with code 0 after an error and with 1001 and its own reason after a
 * ping timeout — all abnormal, so the peer is held for the resume window
 * instead.
 */
export function isDeliberateClose({ code, reason }: { code: number; reason: string }): boolean {
  return reason !== PING_TIMEOUT && isDeliberateCode(code);
}

/** The reason Deno closes a socket with after its ping went unanswered. */
const PING_TIMEOUT = "No response from ping frame.";

/** What the sockets of one handler share: the hub, and their count to give back. */
interface Connections {
  hub: Hub;
  logger: Logger;
  /** A socket from `address` closed. */
  release(address: string): void;
}

/**
 * One upgraded socket, adapted to the hub: the one listener of its events
 * (an object, not a closure per event: a reconnect storm makes thousands).
 */
class SocketConnection {
  readonly #socket: WebSocket;
  readonly #address: string;
  readonly #shared: Connections;
  #session: Session | undefined = undefined;
  #counted = true;

  constructor(socket: WebSocket, address: string, shared: Connections) {
    this.#socket = socket;
    this.#address = address;
    this.#shared = shared;
  }

  // Nothing may throw out of here (it would end the process): `receive`
  // guards itself, the other two branches are guarded below.
  handleEvent(event: Event): void {
    if (event.type === "message") {
      this.#session?.receive((event as MessageEvent).data);
    } else if (event.type === "open") {
      try {
        this.#session = this.#shared.hub.connect(this.#socket, { address: this.#address });
      } catch (error) {
        this.#shared.logger.log("error", "connect failed", { error: String(error) });
        this.#socket.close(CLOSE_CODES.internalError, "internal error");
      }
    } else if (event.type === "close") {
      if (this.#counted) {
        this.#counted = false;
        this.#shared.release(this.#address);
      }
      try {
        this.#session?.close({ deliberate: isDeliberateClose(event as CloseEvent) });
      } catch {
        // Session.close never throws; this guard keeps that promise absolute.
      }
    }
  }
}

/** Compares two strings without an early exit (token checks). */
function constantTimeEquals(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a.charCodeAt(i) || 0) ^ b.charCodeAt(i);
  return diff === 0;
}

/** What Deno.serve tells a handler about the connection. */
export interface RequestInfo {
  remoteAddr: { hostname: string };
}

/** The client address a request counts against: an IPv6 address by its /64. */
export function clientAddress(
  request: Request,
  info: RequestInfo | undefined,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    const hop = request.headers.get("x-forwarded-for")?.split(",").at(-1)?.trim();
    if (hop) return addressGroup(hop.slice(0, 64));
  }
  return addressGroup(info?.remoteAddr.hostname ?? "unknown");
}

/** Creates the server's request handler. */
export function createHandler(
  hub: Hub,
  assets: AssetTable,
  options: HandlerOptions = {},
): (request: Request, info?: RequestInfo) => Response {
  const {
    allowedOrigins = [],
    publicOrigin,
    tls = false,
    maxConnections = DEFAULTS.maxConnections,
    maxConnectionsPerAddress = DEFAULTS.maxConnectionsPerAddress,
    trustProxy = false,
    metricsToken,
    idleTimeoutSeconds = DEFAULTS.idleTimeoutSeconds,
    logger = SILENT_LOGGER,
    now = Date.now,
  } = options;
  const startedAt = now();
  /** Sockets per client address, counted from the upgrade to the close. */
  const perAddress = new Map<string, number>();
  let sockets = 0;
  const publicHost = publicOrigin === undefined ? undefined : new URL(publicOrigin).host;
  const extraPageHeaders: Record<string, string> = tls
    ? { "strict-transport-security": "max-age=31536000" }
    : {};

  /** What every {@linkcode SocketConnection} of this handler shares. */
  const connections: Connections = {
    hub,
    logger,
    release(address) {
      sockets--;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    },
  };

  const upgradeOptions = { idleTimeout: idleTimeoutSeconds };

  function upgrade(
    request: Request,
    headers: Headers,
    host: string | null,
    address: string,
  ): Response {
    const kind = headers.get("upgrade");
    if (kind !== "websocket" && kind?.toLowerCase() !== "websocket") {
      return text(426, "Expected a WebSocket upgrade", {
        upgrade: "websocket",
      });
    }
    const origin = headers.get("origin");
    if (!isOriginAllowed(origin, { host, allowed: allowedOrigins, publicOrigin })) {
      // Attacker-supplied: logged short.
      logger.log("warn", "refused cross-origin socket", {
        origin: (origin ?? "").slice(0, 200),
      });
      return text(403, "Origin not allowed");
    }
    if (sockets >= maxConnections) {
      hub.metrics.connectionsRefused++;
      return text(503, "Too many connections; try again later", { "retry-after": "10" });
    }
    const fromAddress = perAddress.get(address) ?? 0;
    if (fromAddress >= maxConnectionsPerAddress) {
      hub.metrics.connectionsRefused++;
      return text(429, "Too many connections from your address", { "retry-after": "10" });
    }
    let upgraded: ReturnType<typeof Deno.upgradeWebSocket>;
    try {
      upgraded = Deno.upgradeWebSocket(request, upgradeOptions);
    } catch (error) {
      // Missing Sec-WebSocket-Key, wrong version, …: the client's fault.
      return text(
        400,
        `Bad WebSocket handshake: ${error instanceof Error ? error.message : error}`,
      );
    }
    const { socket, response } = upgraded;
    // Counted from now, so sockets still opening count too.
    sockets++;
    perAddress.set(address, fromAddress + 1);
    const connection = new SocketConnection(socket, address, connections);
    socket.addEventListener("open", connection);
    socket.addEventListener("message", connection);
    socket.addEventListener("close", connection);
    return response;
  }

  return (request, info) => {
    try {
      const headers = request.headers;
      const host = headers.get("host");
      // Deno builds request.url from Host: a Host with a path in it would
      // route this request elsewhere, so only a plain host[:port] passes.
      if (host !== null && !isValidHostHeader(host)) return text(400, "Bad Host header");
      if (publicHost !== undefined && host !== null && host.toLowerCase() !== publicHost) {
        return text(421, "Misdirected request: this server answers for its public origin only");
      }
      // The socket path, the one hot route, is recognised without parsing a URL.
      const path = isSocketPath(request.url) ? "/ws" : new URL(request.url).pathname;
      if (path === "/ws") {
        return request.method === "GET"
          ? upgrade(request, headers, host, clientAddress(request, info, trustProxy))
          : text(405, "Method not allowed", { allow: "GET" });
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        return text(405, "Method not allowed", { allow: "GET, HEAD" });
      }
      if (path === "/healthz") {
        // Degraded (503): calls here go on, but joins wait for the cluster.
        const { ok, instance, problem } = hub.health;
        return Response.json({
          status: ok ? "ok" : "degraded",
          ...(problem === undefined ? {} : { problem }),
          ...(instance === undefined ? {} : { instance }),
          connections: hub.connectionCount,
          channels: hub.channelCount,
          uptime_seconds: Math.round((now() - startedAt) / 1000),
        }, { status: ok ? 200 : 503, headers: { "cache-control": "no-store" } });
      }
      if (path === "/metrics") {
        if (
          metricsToken !== undefined &&
          !constantTimeEquals(request.headers.get("authorization") ?? "", `Bearer ${metricsToken}`)
        ) {
          return text(401, "Metrics need a token", { "www-authenticate": "Bearer" });
        }
        return text(
          200,
          hub.metrics.render({
            connections: hub.connectionCount,
            channels: hub.channelCount,
          }).trimEnd(),
          {
            "content-type": "text/plain; version=0.0.4; charset=utf-8",
            "cache-control": "no-store",
          },
        );
      }
      const room = path.startsWith("/r/") ? path.slice(3) : undefined;
      const isPage = path === "/" || path === APP_PAGE ||
        (room !== undefined && isValidChannel(room));
      const asset = assets.get(isPage ? APP_PAGE : path);
      if (asset === undefined) return text(404, "Not found");
      return serveAsset(request, asset, isPage ? { ...PAGE_HEADERS, ...extraPageHeaders } : {});
    } catch (error) {
      logger.log("error", "request failed", { error: String(error) });
      return text(500, "Internal server error");
    }
  };
}
