// esbuild bundles imported CSS into the page's own .css file (web/build.js).
declare module '*.css';
