import pino, { type Logger } from 'pino';
import type { LogLevel } from '../domain/errors.js';

// Secrets never reach a log line, whatever object they travel in.
const REDACT = [
  'key', '*.key', 'apiKey', '*.apiKey', 'secret', '*.secret', 'password', '*.password',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'headers["x-api-key"]', 'req.headers["x-api-key"]', 'connectionParams.authorization',
  'databaseUrl', 'vyosApiKey', 'adminApiKey', '*.vyosApiKey', '*.adminApiKey',
  'token', '*.token', 'metricsToken', '*.metricsToken', '*.databaseUrl',
  '*.headers.authorization', '*.headers["x-api-key"]', 'connectionParams["x-api-key"]', '*.connectionParams.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'vyos-vm-api' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Masks credentials in a URL (postgres://user:pass@host -> postgres://user:***@host). */
export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

const SEVERITY: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** The loudest of some levels (a line about several errors is logged as its worst one). */
export function mostSevere(first: LogLevel, ...rest: LogLevel[]): LogLevel {
  return rest.reduce((a, b) => (SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a), first);
}

export type { Logger };
