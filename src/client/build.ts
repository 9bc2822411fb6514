// Builds `pipet/client`: one self-contained ES module (the client with @trpc/client and superjson,
// no server code) and one .d.ts with the management router's types. `npm run build:client`.
import { rolldown } from 'rolldown';
import { dts } from 'rolldown-plugin-dts';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export async function buildClient({ outDir = resolve(ROOT, 'dist/client'), types = true }: { outDir?: string; types?: boolean } = {}): Promise<{ js: string; dts: string | null }> {
  const input = resolve(ROOT, 'src/client/index.ts');
  const code = await rolldown({ input: { index: input }, platform: 'neutral', resolve: { mainFields: ['module', 'main'] }, logLevel: 'warn' });
  await code.write({ dir: outDir, format: 'esm', entryFileNames: 'index.js', minify: true });
  await code.close();
  if (!types) return { js: resolve(outDir, 'index.js'), dts: null };
  // Types only, with every package left as an import: AppRouter and what it names are inlined.
  const typed = await rolldown({
    input: { index: input },
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('$'),
    plugins: [dts({ emitDtsOnly: true, tsconfig: resolve(ROOT, 'tsconfig.json') })],
    // Generating the router's declarations takes its time; no need to say so on every build.
    checks: { bundlerTimings: false },
    logLevel: 'warn',
  });
  await typed.write({ dir: outDir, format: 'esm' });
  await typed.close();
  return { js: resolve(outDir, 'index.js'), dts: resolve(outDir, 'index.d.ts') };
}

if (import.meta.main) {
  const built = await buildClient();
  console.log(`Wrote ${built.js} and ${built.dts}`);
}
