// Writes man/fwup.1 from the command table (run by `npm run build`, so the man page never drifts from
// --help; package.json's "man" installs it with npm install -g and npm link).
import { mkdir, writeFile } from 'node:fs/promises';
import { manPage } from '../dist/src/cli/man-page.js';
import { COMMANDS, GLOBAL_OPTIONS } from '../dist/src/cli/command-table.js';
import { EXIT_MEANINGS } from '../dist/src/errors/exit-codes.js';
import { ENVIRONMENT } from '../dist/src/cli/environment.js';
import { VERSION } from '../dist/src/cli/version.js';

await mkdir('man', { recursive: true });
await writeFile('man/fwup.1', manPage({ version: VERSION, commands: COMMANDS, globals: GLOBAL_OPTIONS, exitCodes: EXIT_MEANINGS, environment: ENVIRONMENT }));
