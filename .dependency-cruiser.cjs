// The layers of src/, from the top (the composition root) down to what depends on nothing. A
// folder imports only folders of the layers below its own (never a peer of its own layer).
// Checked in `npm test` (`npm run lint:layers`); docs/architecture.md draws the same list. An
// import that runs up a layer, or any cycle, fails naming the rule.
const LAYERS = [
  ['main', 'tools'],
  ['app', 'app.module'],
  ['metrics', 'health', 'console'],
  ['setup'],
  ['auth'],
  ['users'],
  ['scale-out', 'session-cache'],
  ['settings'],
  ['replicas'],
  ['tasks'],
  ['runtime-state'],
  ['openapi'],
  ['database', 'logging'],
  ['http'],
  ['access', 'config'],
  ['common'],
];

/** `src/<name>/...` for a folder, `src/<name>.ts` for a top-level file. */
const pathOf = (name) => `^src/${name.replace(/[.]/g, '\\.')}(/|\\.ts$)`;
const anyOf = (names) => `(${names.map(pathOf).join('|')})`;

/**
 * Imports allowed to run up a layer, each with its reason (at most three; docs/architecture.md
 * names them too).
 */
const EXCEPTIONS = []; // { from, to, why }: none needed so far

const layerRules = LAYERS.flatMap((layer, index) => {
  const above = LAYERS.slice(0, index).flat();
  const sameLayerPeers = layer.length > 1 ? layer : [];
  return [
    ...(above.length
      ? [
          {
            name: `layer-${layer.join('+')}-imports-up`,
            comment: `${layer.join(', ')} may import only the layers below it, never ${above.join(', ')}`,
            severity: 'error',
            from: { path: anyOf(layer) },
            to: {
              path: anyOf(above),
              pathNot: EXCEPTIONS.map((exception) => exception.to),
            },
          },
        ]
      : []),
    ...sameLayerPeers.map((name) => ({
      name: `layer-${name}-imports-a-peer`,
      comment: `${name} and ${sameLayerPeers.filter((peer) => peer !== name).join(', ')} share a layer: neither imports the other`,
      severity: 'error',
      from: { path: pathOf(name) },
      to: { path: anyOf(sameLayerPeers.filter((peer) => peer !== name)) },
    })),
  ];
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'Files that import each other, directly or around a loop',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'every-folder-has-a-layer',
      comment: 'A new folder under src/ gets a place in LAYERS before it is used',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: anyOf(LAYERS.flat()) },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '\\.spec\\.ts$|\\.d\\.ts$' },
  },
};


// For test/architecture/structure.spec.ts (docs/architecture.md draws LAYERS and names the
// EXCEPTIONS); not enumerable, so dependency-cruiser's own config check does not see them.
Object.defineProperty(module.exports, 'layers', { value: LAYERS });
Object.defineProperty(module.exports, 'exceptions', { value: EXCEPTIONS });
