export { type DeclaredExport, DeclaredModule } from './declared.js';
export { describePublicApi, type PublicApiSpec } from './describe.js';
export {
  type ErrorConventionSpec,
  errorConventionProblems,
  type PackageUnderTest,
} from './error-convention.js';
export { exportTable, listedExports, type ReadmeEntry, readmeTableProblems } from './readme-table.js';
