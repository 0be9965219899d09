/**
 * The logger Fastify hands each request (`request.log`, bound to its request id), made only
 * when something needs it.
 *
 * Fastify makes that child logger for every request before any hook runs, and pino's
 * `child()` serializes and redacts the bindings each time: in profiles of `/v1/chat/completions`
 * ~20 µs a request, whether the request logs anything or not. This stand-in writes a line
 * given as `(fields, message)` — the access-log line, most warnings — through the parent
 * with the request id put first among the fields, which is the line the child would have
 * written, byte for byte; anything else (an Error as the first argument, a string alone,
 * `child()`, the level) makes the real child once and hands over to it.
 */
import type { FastifyBaseLogger, FastifyServerOptions } from "fastify";

type ChildLoggerFactory = NonNullable<FastifyServerOptions["childLoggerFactory"]>;

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";
type LogArgs = Parameters<FastifyBaseLogger["info"]>;

const isPlainFields = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype;

class RequestLogger {
  #made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Record<string, unknown>,
    private readonly options: object,
    // With per-route options (a level, serializers) only the real child writes lines right.
    private readonly plain = Object.keys(options).length === 0,
  ) {}

  #child(): FastifyBaseLogger {
    return (this.#made ??= this.parent.child(this.bindings, this.options));
  }

  #write(level: Level, args: LogArgs): void {
    const [first, ...rest] = args as unknown[];
    if (this.#made === undefined && this.plain && isPlainFields(first)) {
      const write = this.parent[level] as (...a: unknown[]) => void;
      // pino's methods for levels below its own are its `silent` no-op: nothing to copy then.
      if (write !== this.parent.silent) write.call(this.parent, { ...this.bindings, ...first }, ...rest);
      return;
    }
    (this.#child()[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return this.#child().level;
  }
  set level(level: string) {
    this.#child().level = level;
  }
  fatal(...args: LogArgs): void {
    this.#write("fatal", args);
  }
  error(...args: LogArgs): void {
    this.#write("error", args);
  }
  warn(...args: LogArgs): void {
    this.#write("warn", args);
  }
  info(...args: LogArgs): void {
    this.#write("info", args);
  }
  debug(...args: LogArgs): void {
    this.#write("debug", args);
  }
  trace(...args: LogArgs): void {
    this.#write("trace", args);
  }
  silent(): void {}
  child(...args: Parameters<FastifyBaseLogger["child"]>): FastifyBaseLogger {
    return this.#child().child(...args);
  }
}

/** Fastify's `childLoggerFactory`: the request's logger, made on first use. */
export const requestLogger: ChildLoggerFactory = (logger, bindings, options) =>
  new RequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
