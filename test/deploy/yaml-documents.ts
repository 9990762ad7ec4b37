import { parseAllDocuments } from 'yaml';

/**
 * Every document of a YAML file (`---`-separated), as plain values, with the `yaml` package.
 * A document with an error (a duplicate key, a broken indent) throws rather than being misread.
 */
export function parseYamlDocuments(source: string): unknown[] {
  return parseAllDocuments(source)
    .map((document) => {
      const [problem] = [...document.errors, ...document.warnings];
      if (problem) throw problem;
      return document.toJS() as unknown;
    })
    .filter((value) => value !== null && value !== undefined);
}
