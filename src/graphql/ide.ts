// The GraphQL IDE at `GET /graphql` (browsers): GraphiQL 5 bundled at build time into dist/ide/
// (ide-bundle.ts), served from there, so it works with no internet access. Turned off with
// GRAPHQL_IDE=false.
import express, { type Request, type Router } from 'express';
import helmet from 'helmet';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { IDE_BUNDLE } from './ide-bundle.js';

/** URL name -> file. A fixed list: nothing else under /ide/ is served. */
export const IDE_ASSETS: Readonly<Record<string, string>> = {
  'ide.js': path.join(IDE_BUNDLE, 'ide.js'),
  'ide.css': path.join(IDE_BUNDLE, 'ide.css'),
  // Monaco's language services (`worker-src 'self'`)
  'editor.worker.js': path.join(IDE_BUNDLE, 'editor.worker.js'),
  'json.worker.js': path.join(IDE_BUNDLE, 'json.worker.js'),
  'graphql.worker.js': path.join(IDE_BUNDLE, 'graphql.worker.js'),
};

/**
 * The page's own policy (helmet sends it in place of the API's): every script, worker and style
 * sheet comes from this origin and no script is inline (GraphiQL and Monaco set style attributes
 * and the icon font is a data: URL in the style sheet; the socket is same-origin). No
 * upgrade-insecure-requests: a server on plain HTTP (a laptop, a lab) would send the page's own
 * requests to an HTTPS port that is not there.
 */
export const IDE_CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'font-src': ["'self'", 'data:'],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'worker-src': ["'self'"],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'object-src': ["'none'"],
} as const;

/** A browser asking for the page, not a GraphQL GET request (which carries `query`). */
export function wantsIde(req: Request): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html') && req.query.query === undefined;
}

/** Mount before the GraphQL middleware: serves the page at GET /graphql and its assets at /ide/. */
export function graphqlIde(): Router {
  const router = express.Router();
  const page = path.join(IDE_BUNDLE, 'index.html');
  // A tree compiled by a bare tsc has no bundle: say how to make one rather than a blank page.
  const built = () => existsSync(page) && existsSync(IDE_ASSETS['ide.js']);

  const policy = helmet.contentSecurityPolicy({ useDefaults: false, directives: IDE_CONTENT_SECURITY_POLICY });
  router.get('/graphql', (req, res, next) => (wantsIde(req) ? policy(req, res, next) : next('route')), (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    if (!built()) return void res.status(503).type('text/plain').send('The GraphQL IDE is not built: run `npm run build` (it bundles dist/ide/).\n');
    res.sendFile(page);
  });

  router.get('/ide/:file', (req, res, next) => {
    if (!Object.hasOwn(IDE_ASSETS, req.params.file)) return next();
    res.sendFile(IDE_ASSETS[req.params.file], { maxAge: '1h' });
  });
  return router;
}
