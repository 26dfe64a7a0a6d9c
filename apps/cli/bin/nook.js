#!/usr/bin/env node
// Entry point of the `nook` command: TypeScript sources run through tsx's loader.
import { register } from 'tsx/esm/api';

register();
// The client commands run on laptops and desktops: they skip loading the server, database and workers.
const clientCommands = new Set(['login', 'upload', 'watch']);
await import(clientCommands.has(process.argv[2] ?? '') ? '../src/client-main.ts' : '../src/main.ts');
