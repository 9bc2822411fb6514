// The layout's promises, checked on every run: no import cycles (type-only imports included), and
// imports only run down the layers: routes/worker/cli → trpc/http → domains → streams/queue →
// db/redis → env/errors (with the shared zod vocabulary in lib/schemas below them all).
import { describe, expect, it } from 'vitest';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { resolve } from 'node:path';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const S = '^src/lib/server/';
const LAYERS: [name: string, paths: string[]][] = [
  // redis-url.ts is pure (no imports): env.ts validates REDIS_URL with it; semaphore.ts is pure too.
  ['base', ['^src/lib/schemas/', `${S}(env|errors|crypto|coalesce|redis-url|semaphore)\\.ts$`]],
  ['infrastructure', [`${S}(db|embedded)/`, `${S}(redis|notify|rate-limit|lifecycle)\\.ts$`]],
  ['streams and queues', [`${S}(streams|queue)/`]],
  ['domains', [`${S}(auth|teams|reducers|effects|recipes|demo|docs|segment|audit)/`]],
  ['interfaces', [`${S}(trpc|http)/`, `${S}shutdown\\.ts$`]],
  ['entry points', ['^src/(routes|worker|cli|params)/', '^src/hooks\\.server\\.ts$', '^src/lib/(components|trpc)/']],
];

let result: ICruiseResult | undefined;
async function cruiseSrc(): Promise<ICruiseResult> {
  if (result) return result;
  const forbidden = [
    { name: 'no-circular', severity: 'error' as const, from: {}, to: { circular: true } },
    ...LAYERS.flatMap(([name, paths], i) =>
      LAYERS.slice(i + 1).map(([higher, upper]) => ({
        name: `${name} must not import ${higher}`,
        severity: 'error' as const,
        from: { path: paths },
        to: { path: upper },
      })),
    ),
  ];
  const out = await cruise(['src'], {
    validate: true,
    ruleSet: { forbidden },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['src/lib/server/db/generated', '\\.svelte$'] },
    tsConfig: { fileName: 'tsconfig.json' },
  }, { alias: { $lib: resolve('src/lib') } }, { tsConfig: extractTSConfig('tsconfig.json') });
  result = out.output as ICruiseResult;
  return result;
}

describe('architecture', () => {
  it('reads the source tree, resolving $lib and .ts imports', async () => {
    const r = await cruiseSrc();
    const fold = r.modules.find((m) => m.source === 'src/lib/server/reducers/fold-stream.ts');
    expect(fold?.dependencies.map((d) => d.resolved)).toContain('src/lib/server/db/client.ts');
    const route = r.modules.find((m) => m.source === 'src/routes/s/[team]/[stream]/+server.ts');
    expect(route?.dependencies.map((d) => d.resolved)).toContain('src/lib/server/http/stream-route.ts');
    // Every module of lib/server belongs to a layer.
    const unplaced = r.modules
      .map((m) => m.source)
      .filter((s) => s.startsWith('src/lib/server/') && !s.includes('/generated/'))
      .filter((s) => !LAYERS.some(([, paths]) => paths.some((p) => new RegExp(p).test(s))));
    expect(unplaced).toEqual([]);
  });

  it('has no import cycles and no import up the layers', async () => {
    const r = await cruiseSrc();
    const violations = r.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (${v.cycle.map((c) => c.name).join(' → ')})` : ''}`);
    expect(violations).toEqual([]);
  });
});
