/**
 * A parser for the Prometheus text exposition format (version 0.0.4), strict enough that a
 * malformed line fails the test instead of being skipped: `# HELP` / `# TYPE` lines, and
 * samples `name{label="value",...} value [timestamp]` with the format's escapes.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** Metric family name -> type, from the `# TYPE` lines. */
  types: Map<string, MetricType>;
  help: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Exposition {
  const exposition: Exposition = { types: new Map(), help: new Map(), samples: [] };
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1} ${why}: ${JSON.stringify(line)}`);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
      if (!meta) return; // any other comment
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) fail('has an unknown type');
        if (exposition.types.has(name)) fail('repeats a TYPE');
        exposition.types.set(name, rest as MetricType);
      } else {
        exposition.help.set(name, rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\'));
      }
      return;
    }
    const name = NAME.exec(line)?.[0] ?? fail('has no metric name');
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      for (;;) {
        rest = rest.trimStart();
        if (rest.startsWith('}')) {
          rest = rest.slice(1);
          break;
        }
        const labelName = LABEL_NAME.exec(rest)?.[0] ?? fail('has a bad label name');
        rest = rest.slice(labelName.length);
        if (!rest.startsWith('="')) fail(`has no value for label ${labelName}`);
        rest = rest.slice(2);
        let value = '';
        for (;;) {
          const char = rest[0] ?? fail('ends inside a label value');
          rest = rest.slice(1);
          if (char === '"') break;
          if (char === '\\') {
            const escaped = rest[0] ?? fail('ends inside an escape');
            rest = rest.slice(1);
            if (escaped === 'n') value += '\n';
            else if (escaped === '\\' || escaped === '"') value += escaped;
            else fail(`has an unknown escape \\${escaped}`);
          } else {
            value += char;
          }
        }
        if (labelName in labels) fail(`repeats label ${labelName}`);
        labels[labelName] = value;
        rest = rest.trimStart();
        if (rest.startsWith(',')) rest = rest.slice(1);
        else if (!rest.startsWith('}')) fail('has no comma between labels');
      }
    }
    const fields = rest.trim().split(/\s+/);
    if (!rest.startsWith(' ') || fields.length < 1 || fields.length > 2) {
      fail('has no value');
    }
    const value = parseValue(fields[0]!) ?? fail('has a value that is not a number');
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) fail('has a bad timestamp');
    exposition.samples.push({ name, labels, value });
  });
  return exposition;
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  return text !== '' && !Number.isNaN(value) ? value : undefined;
}

/** Samples of `name` whose labels include every one in `labels`. */
export function samplesOf(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return exposition.samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

/** The value of the one sample of `name` with exactly these labels; throws if there is none. */
export function valueOf(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  const matches = exposition.samples.filter(
    (sample) =>
      sample.name === name &&
      Object.keys(sample.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (matches.length !== 1) {
    throw new Error(
      `expected one sample ${name}${JSON.stringify(labels)}, found ${matches.length}`,
    );
  }
  return matches[0]!.value;
}
