// One pino logger per process: pretty lines on a terminal, JSON lines for journald and log shippers.
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(level: string, pretty = Boolean(process.stdout.isTTY)): Logger {
  return pino({
    level,
    base: undefined,
    transport: pretty
      ? { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }
      : undefined,
  });
}
