/**
 * Structured logging: one JSON object per line, filtered by level. Callers
 * pass fields, never SDP or candidate strings (they carry users' addresses).
 *
 * @module
 */

/** Log levels, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;

/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Fields attached to a log line. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/**
 * Longest string field written. Some fields come from clients (an Origin,
 * an error text): one refused Origin must not be an 8 KB log line.
 */
export const MAX_FIELD_LENGTH = 200;

function clip(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = typeof value === "string" && value.length > MAX_FIELD_LENGTH
      ? `${value.slice(0, MAX_FIELD_LENGTH)}…(${value.length} chars)`
      : value;
  }
  return out;
}

/** A leveled, structured logger. */
export interface Logger {
  /** Whether lines at `level` are written (to skip building costly fields). */
  enabled(level: LogLevel): boolean;
  /** Writes `msg` with `fields` at `level`. */
  log(
    level: Exclude<LogLevel, "silent">,
    msg: string,
    fields?: LogFields,
  ): void;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Default `"info"`. */
  level?: LogLevel;
  /** Where lines go. Default `console.log` (stdout) / `console.error` (warn+). */
  write?: (line: string, level: LogLevel) => void;
  /** Clock for the `ts` field. Default `Date.now`. */
  now?: () => number;
}

function defaultWrite(line: string, level: LogLevel) {
  if (level === "warn" || level === "error") console.error(line);
  else console.log(line);
}

/** Creates a JSON-lines logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = "info", write = defaultWrite, now = Date.now } = options;
  const threshold = LOG_LEVELS.indexOf(level);
  const enabled = (l: LogLevel) => LOG_LEVELS.indexOf(l) >= threshold;
  return {
    enabled,
    log(l, msg, fields = {}) {
      if (!enabled(l)) return;
      write(
        JSON.stringify({
          ts: new Date(now()).toISOString(),
          level: l,
          msg,
          ...clip(fields),
        }),
        l,
      );
    },
  };
}

/** A logger that writes nothing (tests, benchmarks). */
export const SILENT_LOGGER: Logger = createLogger({ level: "silent" });
