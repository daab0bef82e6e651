// The playground's build: `npm run web` bundles web/src/main.ts (the library
// from src/ straight from its TypeScript, CodeMirror from node_modules) with
// esbuild into web/dist/: index.html, app.js (one classic script, not a
// module, so that the page works from file:// where Chromium refuses module
// scripts) and app.css. `npm run web:dev` (--serve) rebuilds on every change
// and serves web/dist on http://localhost:8000 (PORT to change it).
import { build, context } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const serve = process.argv.includes('--serve');

/** esbuild's options: one browser bundle, minified unless serving. */
const options = {
  entryPoints: { app: join(here, 'src', 'main.ts') },
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2022',
  outdir: out,
  minify: !serve,
  sourcemap: serve ? 'inline' : false,
  legalComments: 'none',
  logLevel: 'warning',
  loader: { '.css': 'css' },
};

mkdirSync(out, { recursive: true });
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));

if (serve) {
  const ctx = await context({
    ...options,
    plugins: [{ name: 'html', setup: (b) => b.onEnd(() => copyFileSync(join(here, 'index.html'), join(out, 'index.html'))) }],
  });
  await ctx.watch();
  const port = Number(process.env.PORT ?? 8000);
  const served = await ctx.serve({ servedir: out, port });
  console.log(`tsbpf playground: http://localhost:${served.port}/ (rebuilds on change)`);
} else {
  await build(options);
  const sizes = ['app.js', 'app.css', 'index.html'].map((f) => {
    const bytes = readFileSync(join(out, f));
    return `${f} ${(statSync(join(out, f)).size / 1024).toFixed(1)} KiB (gzip ${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KiB)`;
  });
  console.log(`web/dist: ${sizes.join(', ')}`);
}
