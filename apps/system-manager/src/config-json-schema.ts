import { z } from 'zod';
import { configSchema } from './config.js';

/** Where the published JSON Schema of the config lives in the package (and the `$schema` value to write in a config file). */
export const CONFIG_SCHEMA_FILE = 'config.schema.json';

/**
 * The JSON Schema (draft 2020-12) of a config file as written (defaults
 * optional), generated from the zod schema so the two cannot disagree, plus
 * the `$schema` key editors use to find it.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  dropNonStandardFormats(schema);
  const properties = (schema['properties'] ?? {}) as Record<string, unknown>;
  return {
    ...schema,
    title: 'system-manager config',
    description:
      'Config file of system-manager (`system-manager config check --config <file>` validates one and prints it resolved).',
    properties: {
      $schema: {
        type: 'string',
        description: 'This schema, for editors: a path or URL of config.schema.json.',
      },
      ...properties,
    },
  };
}

/** zod writes `format: "starts_with"` beside the `pattern` that says the same; it is no JSON Schema format. */
function dropNonStandardFormats(node: unknown): void {
  if (typeof node !== 'object' || node === null) return;
  const record = node as Record<string, unknown>;
  if (record['format'] === 'starts_with' && typeof record['pattern'] === 'string') delete record['format'];
  for (const value of Object.values(record)) dropNonStandardFormats(value);
}
