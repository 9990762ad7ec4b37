/**
 * Parses the small subset of YAML the manifests in deploy/kubernetes use: `---`-separated
 * documents of block mappings and block sequences (`- ` items, at or under their key's
 * indentation), plain or quoted scalars, `#` comments, and the empty `{}` / `[]`. Anything
 * else (flow collections with content, block scalars, anchors, tags) throws, so the manifests
 * stay simple enough for this and for a human. No YAML package is installed; this is enough.
 */
export function parseYamlDocuments(source: string): unknown[] {
  const documents: Line[][] = [[]];
  source.split('\n').forEach((raw, index) => {
    if (/^---\s*$/.test(raw)) {
      documents.push([]);
      return;
    }
    const text = stripComment(raw).trimEnd();
    if (!text.trim()) return;
    if (/\t/.test(text.slice(0, text.length - text.trimStart().length))) {
      throw new Error(`line ${index + 1}: tabs are not allowed in indentation`);
    }
    documents.at(-1)!.push({
      number: index + 1,
      indent: text.length - text.trimStart().length,
      text: text.trim(),
    });
  });
  return documents
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const parser = new Parser(lines);
      const value = parser.node(lines[0]!.indent);
      parser.expectEnd();
      return value;
    });
}

interface Line {
  number: number;
  indent: number;
  text: string;
}

class Parser {
  private position = 0;
  constructor(private readonly lines: Line[]) {}

  node(indent: number): unknown {
    return isItem(this.peek()!) ? this.sequence(indent) : this.mapping(indent);
  }

  expectEnd(): void {
    const line = this.peek();
    if (line) throw new Error(`line ${line.number}: unexpected indentation`);
  }

  private peek(): Line | undefined {
    return this.lines[this.position];
  }

  private sequence(indent: number): unknown[] {
    const items: unknown[] = [];
    for (
      let line = this.peek();
      line && line.indent === indent && isItem(line);
      line = this.peek()
    ) {
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        this.position += 1;
        const next = this.peek();
        if (!next || next.indent <= indent) throw new Error(`line ${line.number}: empty item`);
        items.push(this.node(next.indent));
      } else if (keyOf(rest)) {
        // "- key: value": the item is a mapping whose first line starts after "- ".
        this.lines[this.position] = {
          number: line.number,
          indent: indent + (line.text.length - rest.length),
          text: rest,
        };
        items.push(this.mapping(this.lines[this.position]!.indent));
      } else {
        this.position += 1;
        items.push(scalar(rest, line.number));
      }
    }
    return items;
  }

  private mapping(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    for (
      let line = this.peek();
      line && line.indent === indent && !isItem(line);
      line = this.peek()
    ) {
      const entry = keyOf(line.text);
      if (!entry) throw new Error(`line ${line.number}: expected "key: value", got "${line.text}"`);
      if (entry.key in map) throw new Error(`line ${line.number}: duplicate key "${entry.key}"`);
      this.position += 1;
      if (entry.rest !== '') {
        map[entry.key] = scalar(entry.rest, line.number);
        continue;
      }
      const next = this.peek();
      const nested = next && (next.indent > indent || (next.indent === indent && isItem(next)));
      map[entry.key] = nested ? this.node(next.indent) : null;
    }
    const line = this.peek();
    if (line && line.indent > indent)
      throw new Error(`line ${line.number}: unexpected indentation`);
    return map;
  }
}

function isItem(line: Line): boolean {
  return line.text === '-' || line.text.startsWith('- ');
}

function keyOf(text: string): { key: string; rest: string } | undefined {
  const match = /^("[^"]*"|'[^']*'|[^\s"'#:][^:]*?):(?:\s+(.*))?$/.exec(text);
  if (!match) return undefined;
  return { key: match[1]!.replace(/^["']|["']$/g, ''), rest: (match[2] ?? '').trim() };
}

function scalar(text: string, lineNumber: number): unknown {
  if (text === '{}') return {};
  if (text === '[]') return [];
  if (/^["']/.test(text)) {
    const quote = text[0]!;
    if (!text.endsWith(quote) || text.length < 2) {
      throw new Error(`line ${lineNumber}: unterminated string`);
    }
    const inner = text.slice(1, -1);
    return quote === '"' ? (JSON.parse(text) as string) : inner.replace(/''/g, "'");
  }
  if (/^[[{|>&*!%@`]/.test(text)) {
    throw new Error(`line ${lineNumber}: "${text}" is outside the YAML subset the manifests use`);
  }
  if (/^(true|false)$/.test(text)) return text === 'true';
  if (/^(null|~)$/.test(text)) return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index]!;
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '#' && (index === 0 || /\s/.test(line[index - 1]!))) {
      return line.slice(0, index);
    }
  }
  return line;
}
