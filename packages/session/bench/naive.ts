// The naive baseline: one shared registry file updated by read, parse,
// modify, write in place — no lock, no temp file. A parse failure (e.g. a
// half-written file) counts as an empty registry.
import { readFile, writeFile } from 'node:fs/promises';

type Registry = Record<string, unknown>;

async function readRegistry(file: string): Promise<Registry> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Registry;
  } catch {
    return {};
  }
}

/** Unlocked read-modify-write of a JSON registry file. */
export async function naiveUpdate(file: string, mutate: (registry: Registry) => void): Promise<void> {
  const registry = await readRegistry(file);
  mutate(registry);
  await writeFile(file, JSON.stringify(registry, null, 2));
}

/** Reads the naive registry (for counting). */
export function loadNaive(file: string): Promise<Registry> {
  return readRegistry(file);
}
