import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Middleware } from 'openapi-fetch';

type Node = Record<string, unknown>;

interface ResponseDocs {
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, { schema?: Node }>;
}

/**
 * Checks every answer a client receives against the OpenAPI document, as a validating client
 * would: its status is documented for the operation, its JSON body is valid against that
 * response's schema (objects are closed there, so an undeclared field fails), and the headers
 * the document marks required are present. Problems are collected, not thrown, so a test sees
 * them all.
 */
export class DocumentValidator {
  readonly problems: string[] = [];
  /** `METHOD /path/{param} -> status`, for each answer checked. */
  readonly checked: string[] = [];
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: Node) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    (addFormats as unknown as (ajv: Ajv2020) => void)(this.ajv);
    this.ajv.addSchema(document, 'openapi.json');
  }

  middleware(): Middleware {
    return {
      onResponse: async ({ request, response, schemaPath }) => {
        await this.check(request.method, schemaPath, response.clone());
      },
    };
  }

  private async check(method: string, path: string, response: Response): Promise<void> {
    const where = `${method} ${path} -> ${response.status}`;
    this.checked.push(where);
    const operation = ((this.document.paths as Node)[path] as Node | undefined)?.[
      method.toLowerCase()
    ] as { responses: Record<string, ResponseDocs> } | undefined;
    if (!operation) {
      this.problems.push(`${where}: no such operation in the document`);
      return;
    }
    const documented = operation.responses[String(response.status)];
    if (!documented) {
      this.problems.push(`${where}: status not documented`);
      return;
    }
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      if (header.required && !response.headers.has(name)) {
        this.problems.push(`${where}: required header ${name} missing`);
      }
    }
    if (documented.content?.['text/event-stream']) {
      // An event stream stays open: its type is checked here, its events by the test.
      if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
        this.problems.push(
          `${where}: not an event stream (${response.headers.get('content-type')})`,
        );
      }
      return;
    }
    const text = await response.text();
    const json = documented.content?.['application/json'];
    if (!json) {
      if (text.length > 0) this.problems.push(`${where}: a body the document does not describe`);
      return;
    }
    if (!response.headers.get('content-type')?.startsWith('application/json')) {
      this.problems.push(`${where}: not JSON (${response.headers.get('content-type')})`);
      return;
    }
    const pointer = [
      'paths',
      path,
      method.toLowerCase(),
      'responses',
      String(response.status),
      'content',
      'application/json',
      'schema',
    ]
      .map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1'))
      .join('/');
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `openapi.json#/${pointer}` });
      this.compiled.set(pointer, validate);
    }
    if (!validate(JSON.parse(text))) {
      this.problems.push(`${where}: ${this.ajv.errorsText(validate.errors)} in ${text}`);
    }
  }
}
