// Writes config.schema.json (the published JSON Schema of the config) from the zod schema.
// Run: pnpm --filter system-manager schema   (a test fails when the file is out of date)
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA_FILE, configJsonSchema } from '../src/config-json-schema.js';

const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', CONFIG_SCHEMA_FILE);
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
