// First: tracing patches http, express, graphql and pg as they load (observability/tracing.ts).
import { stopTracing, tracingStatus } from './observability/tracing.js';
import 'reflect-metadata';
import { ConfigError, loadConfig } from './config.js';
import { startApp } from './app.js';
import { createLogger } from './observability/logger.js';
import { CLOSE_TIMEOUT_MS, drainTimeoutMs } from './shutdown.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      // one line per bad variable: all of them, so one edit fixes the lot
      const lines = e.problems.map((p) => `  ${p.variable}: ${p.message}\n`).join('');
      process.stderr.write(`configuration error${e.problems.length > 1 ? `s (${e.problems.length})` : ''}:\n${lines}`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel);
  const tracing = tracingStatus();
  logger[tracing.enabled ? 'info' : 'debug']({ tracing }, `OpenTelemetry tracing ${tracing.enabled ? 'on' : 'off'}`);
  const app = await startApp(config, logger);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const drainMs = drainTimeoutMs(config);
    logger.info({ signal, drainMs }, 'shutting down: taking no new work, letting running requests and router batches finish, then closing');
    // A last resort past the drain and the close: docs/deploy.md sets the grace periods above it.
    const force = setTimeout(() => {
      logger.error({ afterMs: drainMs + CLOSE_TIMEOUT_MS }, 'shutdown did not finish in time: exiting');
      process.exit(1);
    }, drainMs + CLOSE_TIMEOUT_MS);
    force.unref();
    // Spans still buffered are exported before the process exits.
    app.stop().then(stopTracing).then(
      () => process.exit(0),
      (e) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`fatal: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
