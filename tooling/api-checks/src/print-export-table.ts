// Prints the README table of a package's entry module:
//   node --import tsx tooling/api-checks/src/print-export-table.ts <package dir> <entry, e.g. src/index.ts> <specifier>
import { join, resolve } from 'node:path';
import { exportTable } from './readme-table.js';

const [dir, entry, specifier] = process.argv.slice(2);
if (dir === undefined || entry === undefined || specifier === undefined) {
  process.stderr.write('usage: print-export-table.ts <package dir> <entry> <specifier>\n');
  process.exit(2);
}
process.stdout.write(
  `${exportTable({ source: resolve(dir, entry), specifier }, join(resolve(dir), 'tsconfig.json'))}\n`,
);
