/** Version of this package's public API surface (placeholder until the package issue lands). */
export const PACKAGE_NAME = '@core/stats';
