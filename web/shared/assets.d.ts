// esbuild bundles imported CSS into the page's own .css file (web/build.js).
declare module '*.css';

// RuntimeSettings and the schemas it refers to, from the OpenAPI document (web/build.js).
declare module 'keel:settings-schema' {
  const settingsSchema: {
    root: string;
    schemas: Record<string, Record<string, unknown>>;
  };
  export default settingsSchema;
}
