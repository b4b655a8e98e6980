// Bundles the GraphQL IDE (GraphiQL 5, React 19, Monaco and its workers) into dist/ide/ at build
// time (`npm run build` runs this file). The server then serves those files and nothing else:
// no CDN, no node_modules at run time. esbuild is a build tool here only: no test runs through it.
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../database/orm.js';

export const IDE_SOURCE = path.join(projectRoot, 'src', 'graphql', 'ide');
export const IDE_BUNDLE = path.join(projectRoot, 'dist', 'ide');

/** Monaco's workers, by the name the page asks for (`/ide/<name>.worker.js`). */
const WORKERS: Record<string, string> = {
  editor: 'monaco-editor/esm/vs/editor/editor.worker.js',
  json: 'monaco-editor/esm/vs/language/json/json.worker.js',
  graphql: 'monaco-graphql/esm/graphql.worker.js',
};

export async function bundleIde(outdir = IDE_BUNDLE): Promise<void> {
  // Loaded here, not at the top: the server itself never needs esbuild.
  const esbuild = await import('esbuild');
  const common = {
    bundle: true,
    minify: true,
    legalComments: 'eof',
    target: 'es2022',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    absWorkingDir: projectRoot,
  } as const;
  await esbuild.build({
    ...common,
    entryPoints: { ide: path.join(IDE_SOURCE, 'ide.js') },
    outdir,
    format: 'esm',
    // Monaco's icon font goes into the style sheet (`font-src data:`): one file fewer to list.
    loader: { '.ttf': 'dataurl' },
  });
  await esbuild.build({
    ...common,
    entryPoints: Object.fromEntries(Object.entries(WORKERS).map(([name, file]) => [`${name}.worker`, require.resolve(file)])),
    outdir,
    format: 'iife',
  });
  await copyFile(path.join(IDE_SOURCE, 'index.html'), path.join(outdir, 'index.html'));
}

if (require.main === module) {
  bundleIde().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
