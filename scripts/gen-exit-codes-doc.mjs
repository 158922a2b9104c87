// Regenerate docs/exit-codes.md from src/errors (after `npm run build`). test/exit-codes.test.ts fails
// when the document and the code disagree.
import { writeFileSync } from 'node:fs';
import { EXIT_MEANINGS } from '../dist/src/errors/exit-codes.js';
import { ERROR_CODES } from '../dist/src/errors/codes.js';

let s = `# Exit codes

fwup maps every error to one exit code in one place (\`src/errors/exit-codes.ts\` and \`src/errors/codes.ts\`).
The first four follow fwupd's conventions (0 ok, 1 failure, 2 nothing to do, 3 not found); the rest give
scripts a way to tell a damaged image from a refused one, a busy target from a broken one.

| exit | name | meaning |
|---:|---|---|
`;
for (const [c, n, m] of EXIT_MEANINGS) s += `| ${c} | ${n} | ${m} |\n`;
s += `
## Error codes

With \`--json\`, an error is printed on stdout as

\`\`\`json
{ "error": { "code": "IMAGE_SHA256", "message": "...", "hint": "...", "exitCode": 6 } }
\`\`\`

(\`inspect\` prints its full report with an \`error\` member added.) Without \`--json\` the message goes to stderr
as \`error: ...\` followed by \`hint: ...\`. The \`code\` is stable; messages may be reworded.

| code | exit |
|---|---:|
`;
for (const [k, v] of Object.entries(ERROR_CODES)) s += `| \`${k}\` | ${v} |\n`;
s += `
An \`INTERNAL\` error (exit 70) is a bug in fwup: it says so and asks for a report; \`--verbose\` adds the
stack trace. Bad input never produces a stack trace.
`;
writeFileSync(new URL('../docs/exit-codes.md', import.meta.url), s);
