// `nook login|upload|watch` on a client computer: the same binary, without loading the server's stack.
import { Command } from 'commander';
import { registerClientCommands } from './client/commands';
import { version } from './version';

const program = new Command('nook').version(version).description('Nook client: upload and watch folders');
registerClientCommands(program);

program.parseAsync().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`nook: ${message}\n`);
  process.exit(1);
});
