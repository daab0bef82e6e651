#!/usr/bin/env node
// The tsbpf command: the compiled CLI (built by `npm ci` / `npm run build`),
// run over the process's own streams. The only place that runs the CLI and
// owns the process: its exit code, and a closed pipe. entry.js loads main.js
// only when a command needs it (the fast filter path does not).
import { run } from '../dist/src/cli/entry.js';
import { processIo } from '../dist/src/cli/io.js';

// A closed pipe (`tsbpf disasm x | head`) ends the output quietly, as for any Unix tool.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await run(process.argv.slice(2), processIo());
