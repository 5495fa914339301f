// What a package's entry module declares, read by the TypeScript compiler:
// the names it exports (values and types alike) and the members of a
// string-literal union it exports. Runtime reflection sees neither type
// exports nor the members of a union type.
import ts from 'typescript';

/** The exported names of a module, each with whether it is a type only. */
export interface DeclaredExport {
  readonly name: string;
  /** True for an interface or type alias (nothing exists at run time). */
  readonly typeOnly: boolean;
  /** What it is: `class`, `function`, `const`, `interface`, `type`, `enum`. */
  readonly kind: string;
  /** The first sentence of its doc comment ('' when it has none). */
  readonly summary: string;
  /** Whether its doc comment says `@deprecated`. */
  readonly deprecated: boolean;
}

function kindOf(flags: ts.SymbolFlags): string {
  if (flags & ts.SymbolFlags.Class) return 'class';
  if (flags & ts.SymbolFlags.Function) return 'function';
  if (flags & ts.SymbolFlags.Enum) return 'enum';
  if (flags & ts.SymbolFlags.Variable) return 'const';
  if (flags & ts.SymbolFlags.Interface) return 'interface';
  return 'type';
}

/** One entry module, compiled once and asked several questions. */
export class DeclaredModule {
  private readonly checker: ts.TypeChecker;
  private readonly module: ts.Symbol;

  /**
   * @param entry - absolute path of the module (a package's `src/index.ts`)
   * @param tsconfig - the package's tsconfig.json, for its compiler options
   */
  constructor(entry: string, tsconfig: string) {
    const parsed = ts.getParsedCommandLineOfConfigFile(
      tsconfig,
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new TypeError(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    if (parsed === undefined) throw new TypeError(`cannot read ${tsconfig}`);
    const program = ts.createProgram([entry], { ...parsed.options, noEmit: true });
    this.checker = program.getTypeChecker();
    const source = program.getSourceFile(entry);
    const module = source === undefined ? undefined : this.checker.getSymbolAtLocation(source);
    if (module === undefined) throw new TypeError(`${entry} is not a module`);
    this.module = module;
  }

  /** Every name the module exports, sorted. */
  exports(): DeclaredExport[] {
    return this.checker
      .getExportsOfModule(this.module)
      .map((symbol) => {
        const target = symbol.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(symbol) : symbol;
        const typeOnly = (target.flags & ts.SymbolFlags.Value) === 0;
        const doc = ts
          .displayPartsToString(target.getDocumentationComment(this.checker))
          .replace(/\s+/g, ' ')
          .trim();
        const summary = /^(.*?\.)(\s+[A-Z`]|$)/.exec(doc)?.[1] ?? doc;
        const deprecated = target.getJsDocTags(this.checker).some((tag) => tag.name === 'deprecated');
        return { name: symbol.name, typeOnly, kind: kindOf(target.flags), summary, deprecated };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The members of the exported string-literal union type `name`. */
  stringUnion(name: string): string[] {
    const symbol = this.checker.getExportsOfModule(this.module).find((s) => s.name === name);
    if (symbol === undefined) throw new TypeError(`the module exports no type ${name}`);
    const target = symbol.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(symbol) : symbol;
    const type = this.checker.getDeclaredTypeOfSymbol(target);
    const members = type.isUnion() ? type.types : [type];
    return members.map((member) => {
      if (!member.isStringLiteral()) {
        throw new TypeError(
          `${name} has a member that is not a string literal: ${this.checker.typeToString(member)}`,
        );
      }
      return member.value;
    });
  }
}
