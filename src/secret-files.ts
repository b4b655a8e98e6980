// `X_FILE`: a secret read from a file instead of the environment (Docker and Kubernetes secrets,
// systemd credentials). One reading for config.ts and for tracing.ts, which must resolve the
// OTLP headers before the OpenTelemetry SDK reads them, before config.ts is even loaded.
import { readFileSync } from 'node:fs';

type Env = Record<string, string | undefined>;

/** The secret's value from `${name}_FILE`; `problem` when the file cannot be used; neither when no file is named. */
export function secretFromFile(env: Env, name: string): { value?: string; file?: string; problem?: string } {
  const fileVar = `${name}_FILE`;
  const file = env[fileVar]?.trim();
  if (!file) return {};
  if (env[name]?.trim()) return { problem: `set ${name} or ${fileVar}, not both` };
  let contents: string;
  try {
    contents = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    return { problem: `cannot read "${file}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  // An empty file would silently mean "unset" (for DATABASE_URL: the embedded database).
  if (contents.trim() === '') return { problem: `"${file}" is empty` };
  return { value: contents, file };
}
