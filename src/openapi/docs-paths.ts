/** Where the API's documentation is served: Swagger UI, and the document it shows. */
export const DOCS_PATH = '/api/docs';
export const DOCS_JSON_PATH = '/api/docs/openapi.json';
