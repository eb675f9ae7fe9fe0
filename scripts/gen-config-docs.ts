// Writes docs/CONFIGURATION.md from the zod schema, so the reference can't drift from
// what the gateway accepts. `npm run docs:config`; test/docs.test.ts checks it is current.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from './config-reference.ts';

const target = fileURLToPath(new URL('../docs/CONFIGURATION.md', import.meta.url));
writeFileSync(target, renderConfigReference());
process.stdout.write(`wrote ${target}\n`);
