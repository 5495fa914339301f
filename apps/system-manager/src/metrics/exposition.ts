/**
 * The Prometheus text exposition format 0.0.4, just enough of it to write the
 * app's own families: `# HELP` and `# TYPE` once per family, then its samples.
 * Hand-written rather than prom-client because the app's values live in the
 * manager and are read at scrape time; a registry of prom-client objects would
 * be a second copy of that state to keep in step.
 */

/** One sample: label values as given (escaped when rendered), any number as value. */
export interface Sample {
  /** Label name → value; rendered in this order. */
  readonly labels?: Readonly<Record<string, string>>;
  /** The value; `NaN` and ±Infinity are spelled the way the format spells them. */
  readonly value: number;
}

/** One metric family: name, type, help text and its samples. */
export interface MetricFamily {
  /** Metric name; counters end in `_total`. */
  readonly name: string;
  /** `counter` or `gauge` (the only types the app exposes). */
  readonly type: 'counter' | 'gauge';
  /** One line of help text. */
  readonly help: string;
  /** The samples, possibly none (HELP and TYPE are still written). */
  readonly samples: readonly Sample[];
}

/** Escapes a label value: backslash, double quote and line feed, as the format requires. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes help text: backslash and line feed (quotes are literal there). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as the format spells it. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** The families as exposition text, each line ending in `\n` (empty string for no families). */
export function renderFamilies(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
