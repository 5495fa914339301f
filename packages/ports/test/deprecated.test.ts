// "Editors strike deprecated aliases through": an editor does that when the
// TypeScript language service reports a suggestion with `reportsDeprecated`.
// Ask the language service itself about a file that uses the registry.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const probeFile = join(packageDir, 'src', '__deprecation_probe__.ts');
const probeSource = `
import { createPortRegistry, DEFAULT_ALIASES, DEFAULT_PORTS } from './index.js';
const r = createPortRegistry(DEFAULT_PORTS, { aliases: DEFAULT_ALIASES });
export const values = [r.backendPort, r.frontendPort, r.websocketPort, r.backend_port, r.frontend_port, r.websocket_port];
`;

function deprecatedNames(): string[] {
  const configPath = join(packageDir, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (parsed === undefined) throw new Error('cannot read tsconfig.json');
  const host: ts.LanguageServiceHost = {
    getCompilationSettings: () => parsed.options,
    getScriptFileNames: () => [probeFile],
    getScriptVersion: () => '1',
    getScriptSnapshot: (file) => {
      const text = file === probeFile ? probeSource : ts.sys.readFile(file);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => packageDir,
    getDefaultLibFileName: (options) => ts.getDefaultLibFilePath(options),
    fileExists: (file) => file === probeFile || ts.sys.fileExists(file),
    readFile: (file) => (file === probeFile ? probeSource : ts.sys.readFile(file)),
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  const service = ts.createLanguageService(host);
  const errors = service.getSemanticDiagnostics(probeFile);
  if (errors.length > 0) {
    throw new Error(errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'));
  }
  return service
    .getSuggestionDiagnostics(probeFile)
    .filter((d) => d.reportsDeprecated)
    .map((d) => probeSource.slice(d.start, (d.start ?? 0) + (d.length ?? 0)));
}

describe('deprecated snake-case aliases', () => {
  it('are reported deprecated (struck through) on the registry; the camelCase ones are not', {
    timeout: 30_000,
  }, () => {
    expect(deprecatedNames().sort()).toEqual(['backend_port', 'frontend_port', 'websocket_port']);
  });
});
