/**
 * /ws/chat: the streaming chat backend's protocol over a WebSocket.
 *
 *   client → {type:"auth", token} | {type:"chat", message, conversationId?, model?, id?} | {type:"ping"}
 *   server → {type:"chat_start"} | {type:"chat_delta", content} | {type:"chat_complete", usage, finishReason}
 *            | {type:"error", code, message} | {type:"pong"} | {type:"auth_ok", user}
 *
 * Each chat runs chat.stream through a server-side caller, so the role guard, validation,
 * per-user rate limit and emergency stop are the procedure's; so is the end of a chat whose
 * session or API key ends mid-answer (an UNAUTHORIZED error, then the socket's 1008 close).
 * An idle signed-in socket gets the same error (without an id) and close when its token stops
 * acting (session-close.ts); when it expires, the error says so and the close's reason is
 * "Token expired". A fresh token sent as `{type:"auth"}` on the open socket (the same user)
 * takes over, and the socket then closes at its expiry instead.
 * Several chats may run on one socket at once; events of a chat carry the `id` the client
 * gave it. Closing the socket aborts every upstream call it started. Each chat is logged and
 * measured as a request of its own (socket-turn.ts): route /ws/chat, method WS, surface ws.
 *
 * Abuse is answered, never crashed on: a malformed frame, an unknown type or a message over
 * the rate cap gets an `error`, and after a few such strikes the socket is closed with 1008;
 * a frame over 1 MB gets an `error` and a 1009 close at once. A frame that breaks WebSocket's
 * own rules (a text frame that is not UTF-8) is closed by `ws` (1007) with a warn line
 * (socket-errors.ts).
 */
import { findInputFlaw } from "@switchboard/schema";
import type { FastifyRequest } from "fastify";
import type { RawData, WebSocket } from "ws";
import type { AppDeps } from "../../deps.ts";
import { noteErrorCode } from "../../infra/request-scope.ts";
import { appRouter } from "../../routers/index.ts";
import { SESSION_ENDED_MESSAGE } from "../../services/auth/credential-watch.ts";
import { createContextInner, resolveUser, type AuthedUser } from "../../trpc/context.ts";
import { errorData, isSessionEnded, toTRPCError } from "../../trpc/errors.ts";
import { createCallerFactory } from "../../trpc/init.ts";
import { chatInputOf, legacyStreamEvent } from "../legacy/shapes.ts";
import { AppError } from "../../services/errors.ts";
import { countAgainstIpLimit } from "../ip-limit.ts";
import { STREAM_RETRY_AFTER_SEC, takeStreamSlot } from "../stream-slots.ts";
import { closeOnSessionEnd } from "./session-close.ts";
import { SESSION_ENDED_CLOSE, upgradeToken } from "./socket-auth.ts";
import { refusalStatus, SocketTurn } from "./socket-turn.ts";

const createCaller = createCallerFactory(appRouter);

export const WS_LIMITS = {
  /** Largest message read; bigger ones get an error and a 1009 close. */
  maxMessageBytes: 1024 * 1024,
  /** Chats running at once on one socket. */
  chatsPerSocket: 4,
  /** Bad messages tolerated before the socket is closed with 1008. */
  strikes: 3,
  /** Time to authenticate after connecting. */
  authTimeoutMs: 10_000,
  /** Keep-alive ping period; a peer that missed one pong is dropped. */
  pingIntervalMs: 30_000,
} as const;

/** WebSocket close codes (RFC 6455). */
const CLOSE = { policy: 1008, tooBig: 1009, goingAway: 1001 } as const;

type Outgoing = Record<string, unknown> & { type: string };

interface WindowCount {
  start: number;
  count: number;
}

export interface ChatSockets {
  handle(socket: WebSocket, request: FastifyRequest): void;
  /** Open sockets on this instance. */
  openCount(): number;
}

export function createChatSockets(deps: AppDeps): ChatSockets {
  const socketsByUser = new Map<string, number>();
  const messagesByUser = new Map<string, WindowCount>();
  let open = 0;

  /** Fixed one-minute window per user (or per socket before sign-in); returns seconds to wait, or 0. */
  function takeMessage(key: string): number {
    const now = Date.now();
    let window = messagesByUser.get(key);
    if (!window || now - window.start >= 60_000) {
      window = { start: now, count: 0 };
      messagesByUser.set(key, window);
    }
    if (window.count >= deps.env.WS_MESSAGES_PER_MIN) return Math.max(1, Math.ceil((window.start + 60_000 - now) / 1000));
    window.count++;
    return 0;
  }
  // Old windows are dropped now and then, so the map does not grow with every user ever seen.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, w] of messagesByUser) if (now - w.start >= 60_000) messagesByUser.delete(key);
  }, 60_000);
  sweep.unref();

  function handle(socket: WebSocket, request: FastifyRequest): void {
    open++;
    const log = request.log.child({ ws: "/ws/chat" });
    const anonymousKey = `socket:${request.id}`;
    const chats = new Map<string, AbortController>();
    let token: string | undefined;
    let user: AuthedUser | null = null;
    let countedFor: string | undefined;
    let strikes = 0;
    let chatSeq = 0;
    let turns = 0;
    let alive = true;
    let closed = false;

    const send = (message: Outgoing) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
    };
    const fail = (code: string, message: string, extra: Record<string, unknown> = {}) => send({ type: "error", code, message, ...extra });
    const close = (code: number, reason: string) => {
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
    };
    // Signed in, the socket ends with its token (revoked or expired), idle or not; running chats end first.
    const session = closeOnSessionEnd(deps, socket, (why) => {
      fail("UNAUTHORIZED", why.message);
      close(why.close.code, why.close.reason);
    });
    const strike = (code: string, message: string, extra: Record<string, unknown> = {}) => {
      fail(code, message, extra);
      if (++strikes >= WS_LIMITS.strikes) close(CLOSE.policy, "Too many bad messages");
    };

    const authTimer = setTimeout(() => {
      if (user) return;
      fail("UNAUTHORIZED", "Authenticate first: send {type:\"auth\", token}");
      close(CLOSE.policy, "Not authenticated");
    }, WS_LIMITS.authTimeoutMs);
    const pinger = setInterval(() => {
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    }, WS_LIMITS.pingIntervalMs);
    socket.on("pong", () => (alive = true));

    socket.once("close", () => {
      closed = true;
      open--;
      clearTimeout(authTimer);
      clearInterval(pinger);
      if (countedFor) {
        const left = (socketsByUser.get(countedFor) ?? 1) - 1;
        if (left > 0) socketsByUser.set(countedFor, left);
        else socketsByUser.delete(countedFor);
      }
      for (const controller of chats.values()) controller.abort(new Error("client disconnected"));
      chats.clear();
    });

    /** Signs the socket in; false (after answering) when the token is refused or the cap is reached. */
    async function authenticate(candidate: string): Promise<boolean> {
      let resolved: AuthedUser | null;
      try {
        resolved = await resolveUser(deps, candidate, request.scope);
      } catch (error) {
        // The token could not be checked now (the database is unavailable): say so and keep
        // the socket, so the client retries rather than signing the user out.
        const refusal = toTRPCError(error);
        const { appCode, retryAfterSec } = errorData(refusal);
        if (!closed) fail(String(appCode), refusal.message, typeof retryAfterSec === "number" ? { retryAfterSec } : {});
        return false;
      }
      if (closed) return false;
      if (!resolved) {
        fail("UNAUTHORIZED", "Invalid or expired token");
        close(CLOSE.policy, "Invalid token");
        return false;
      }
      if (user && resolved.id !== user.id) {
        strike("BAD_REQUEST", "This socket is signed in as another user");
        return false;
      }
      token = candidate;
      if (!user) {
        const count = socketsByUser.get(resolved.id) ?? 0;
        if (count >= deps.env.WS_SOCKETS_PER_USER) {
          fail("TOO_MANY_REQUESTS", `Too many open sockets (limit ${deps.env.WS_SOCKETS_PER_USER} per user)`, { retryAfterSec: STREAM_RETRY_AFTER_SEC });
          close(CLOSE.policy, "Too many sockets");
          return false;
        }
        socketsByUser.set(resolved.id, count + 1);
        countedFor = resolved.id;
        clearTimeout(authTimer);
      }
      user = resolved;
      session.follow(candidate, resolved);
      return true;
    }

    async function runChat(message: Record<string, unknown>): Promise<void> {
      const id = typeof message["id"] === "string" || typeof message["id"] === "number" ? String(message["id"]).slice(0, 100) : String(++chatSeq);
      const tag = message["id"] !== undefined ? { id } : {};
      if (chats.has(id)) return strike("BAD_REQUEST", `A chat with id ${id} is already running on this socket`, tag);
      // Each chat is a request of its own: its own scope, one request-log row when it ends.
      const turn = new SocketTurn(deps, {
        requestId: `${request.id}:${++turns}`,
        route: "/ws/chat",
        url: "/ws/chat",
        surface: "ws",
        ip: request.ip,
        stream: true,
        requestBody: () => JSON.stringify(message),
        tags: request.scope?.tags,
      });
      await chat(message, id, tag, turn);
    }

    async function chat(message: Record<string, unknown>, id: string, tag: { id?: string }, turn: SocketTurn): Promise<void> {
      let status = 200;
      /** Refuses the chat before it started: the row gets the status and code HTTP would answer with. */
      const refuse = (code: string, text: string, extra: Record<string, unknown>, httpStatus: number) => {
        status = httpStatus;
        noteErrorCode(turn.scope, code);
        fail(code, text, extra);
      };
      if (chats.size >= WS_LIMITS.chatsPerSocket) {
        refuse("TOO_MANY_REQUESTS", `Too many chats at once on this socket (limit ${WS_LIMITS.chatsPerSocket})`, { ...tag, retryAfterSec: STREAM_RETRY_AFTER_SEC }, 429);
        return turn.end(status);
      }
      const controller = new AbortController();
      chats.set(id, controller);
      const over = session.streamStarted();
      let streamOpen = false;
      let releaseSlot: (() => void) | undefined;
      try {
        // The token is checked again for every chat: a session revoked meanwhile ends here.
        const current = token ? await resolveUser(deps, token, turn.scope) : null;
        if (!current) {
          refuse("UNAUTHORIZED", SESSION_ENDED_MESSAGE, tag, 401);
          close(SESSION_ENDED_CLOSE.code, SESSION_ENDED_CLOSE.reason);
          return;
        }
        // Each running chat holds one of the user's stream slots, shared with the other
        // transports; a refusal (429, retryAfterSec) is answered below like any other.
        releaseSlot = takeStreamSlot(deps, { user: current, ip: request.ip });
        const caller = createCaller(
          createContextInner({
            deps,
            user: current,
            req: { requestId: turn.scope.requestId, ip: request.ip, userAgent: request.headers["user-agent"], signal: controller.signal, scope: turn.scope },
          }),
        );
        const events = await caller.chat.stream(chatInputOf(message));
        deps.metrics.streamOpened();
        streamOpen = true;
        for await (const event of events) {
          if (controller.signal.aborted) break;
          send({ ...legacyStreamEvent(event), ...tag });
        }
      } catch (error) {
        if (controller.signal.aborted && closed) return;
        const trpcError = toTRPCError(error);
        const { appCode, zodError, retryAfterSec } = errorData(trpcError);
        const issues = zodError ? { issues: zodError } : {};
        const retry = typeof retryAfterSec === "number" ? { retryAfterSec } : {};
        if (appCode === "INTERNAL_SERVER_ERROR") log.error({ err: error }, "websocket chat failed");
        if (!streamOpen) status = refusalStatus(trpcError);
        fail(String(appCode), appCode === "INTERNAL_SERVER_ERROR" ? "Internal error" : trpcError.message, { ...tag, ...issues, ...retry });
        if (isSessionEnded(trpcError)) close(SESSION_ENDED_CLOSE.code, SESSION_ENDED_CLOSE.reason);
      } finally {
        // A chat that ended early (its session ended) stops its upstream call too.
        controller.abort(new Error("chat ended"));
        if (streamOpen) deps.metrics.streamClosed();
        releaseSlot?.();
        chats.delete(id);
        // A chat the socket's close cut short was not answered in full.
        turn.end(status, !closed);
        over();
      }
    }

    async function onMessage(data: RawData): Promise<void> {
      // Frames still queued behind a slow one when the socket closed: nobody is left to answer,
      // and a chat started now would have no one to abort it (the close aborted those before).
      if (closed) return;
      const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
      if (size > WS_LIMITS.maxMessageBytes) {
        fail("PAYLOAD_TOO_LARGE", `Message too large (limit ${WS_LIMITS.maxMessageBytes} bytes)`);
        return close(CLOSE.tooBig, "Message too large");
      }
      const wait = takeMessage(user ? `user:${user.id}` : anonymousKey);
      if (wait > 0) return strike("TOO_MANY_REQUESTS", `Too many messages (limit ${deps.env.WS_MESSAGES_PER_MIN} per minute)`, { retryAfterSec: wait });
      try {
        await countAgainstIpLimit(deps, request.ip);
      } catch (error) {
        if (error instanceof AppError) return strike(error.code, error.message, { retryAfterSec: error.retryAfterSec });
        throw error;
      }
      if (closed) return; // it closed while the count was taken

      let message: unknown;
      try {
        message = JSON.parse(Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data as ArrayBuffer).toString("utf8"));
      } catch {
        return strike("BAD_REQUEST", "Malformed message: send one JSON object per frame");
      }
      if (!message || typeof message !== "object" || Array.isArray(message) || typeof (message as { type?: unknown }).type !== "string") {
        return strike("BAD_REQUEST", 'Malformed message: expected {"type": …}');
      }
      // The hygiene every HTTP request gets: a frame echoed back (a ping's id) or stored must
      // hold no NUL and no nesting that recursive code (JSON.stringify) cannot take.
      const flaw = findInputFlaw(message);
      if (flaw) return strike("BAD_REQUEST", flaw.message, { param: flaw.path.join(".") });
      const m = message as Record<string, unknown> & { type: string };
      switch (m.type) {
        case "ping":
          return send({ type: "pong", ...(m["id"] !== undefined ? { id: m["id"] } : {}) });
        case "auth":
          if (typeof m["token"] !== "string" || m["token"].length === 0 || m["token"].length > 8192) {
            return strike("BAD_REQUEST", "auth needs a token string");
          }
          if (await authenticate(m["token"])) send({ type: "auth_ok", user: { id: user!.id, email: user!.email, role: user!.role } });
          return;
        case "chat":
          if (!user) return strike("UNAUTHORIZED", 'Authenticate first: send {type:"auth", token}');
          void runChat(m);
          return;
        default:
          return strike("BAD_REQUEST", `Unknown message type ${JSON.stringify(m.type.slice(0, 50))}; expected auth, chat or ping`);
      }
    }

    // Listeners go on before any await, so no early frame is lost; frames are handled in order.
    let queue = Promise.resolve();
    socket.on("message", (data) => {
      queue = queue.then(() => onMessage(data)).catch((err: unknown) => log.error({ err }, "websocket message failed"));
    });

    const { token: initial, cookieRefused } = upgradeToken(deps, request);
    queue = queue.then(async () => {
      if (cookieRefused) {
        fail("FORBIDDEN", "The session cookie is not accepted from this origin; send a token");
        return close(CLOSE.policy, "Origin not allowed");
      }
      if (initial && (await authenticate(initial))) send({ type: "auth_ok", user: { id: user!.id, email: user!.email, role: user!.role } });
    });
  }

  return { handle, openCount: () => open };
}
