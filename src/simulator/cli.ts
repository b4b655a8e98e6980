// `node dist/src/simulator/cli.js --port 8443 --key K [--version <profile>] [--commit-latency-ms 800]
//  [--minute-ms 60000] [--host 127.0.0.1] [--strict] [--commit-confirm-action reload|reboot]`
// Runs the simulator as its own process (demos, users' CI) until SIGINT/SIGTERM.

import { PROFILE_NAMES, simulatorProfile, type SimVersionOption } from './profiles';
import { startSimulator, type SimulatorOptions } from './simulator';

const USAGE =
  `usage: vyos-simulator [--port 8443 (0 = random)] [--host 127.0.0.1] [--key K]... [--version ${PROFILE_NAMES.join('|')}]\n` +
  `                      [--commit-latency-ms 0] [--minute-ms 60000] [--strict] [--commit-confirm-action reload|reboot]`;

function parseArgs(argv: string[]): SimulatorOptions {
  const options: SimulatorOptions = { port: 8443 };
  const keys: string[] = [];
  const number = (flag: string, text: string | undefined): number => {
    if (text === undefined || !/^\d+$/.test(text)) throw new Error(`${flag} needs a non-negative integer`);
    return Number(text);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port': options.port = number(flag, value()); break;
      case '--host': options.host = value(); break;
      case '--key': keys.push(value()); break;
      case '--version': {
        const v = value();
        if (!PROFILE_NAMES.includes(v)) throw new Error(`--version must be one of ${PROFILE_NAMES.join(', ')}`);
        options.version = v as SimVersionOption;
        break;
      }
      case '--commit-latency-ms': options.commitLatencyMs = number(flag, value()); break;
      case '--minute-ms': options.minuteMs = number(flag, value()); break;
      case '--strict': options.strict = true; break;
      case '--commit-confirm-action': {
        const v = value();
        if (v !== 'reload' && v !== 'reboot') throw new Error('--commit-confirm-action must be reload or reboot');
        options.commitConfirmAction = v;
        break;
      }
      case '-h':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      // falls through (exit does not return)
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  if (keys.length) options.keys = keys;
  return options;
}

async function main(): Promise<void> {
  let options: SimulatorOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const sim = await startSimulator(options);
  process.stdout.write(
    `VyOS API simulator (${simulatorProfile(options.version ?? 'rolling').name}, VyOS ${sim.profile.image}) listening on ${sim.url}` +
      ` (keys: ${(options.keys ?? ['sim-key']).join(', ')})\n`,
  );
  const shutdown = (): void => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

void main().catch((e: unknown) => {
  process.stderr.write(`simulator failed to start: ${(e as Error).message}\n`);
  process.exit(1);
});
