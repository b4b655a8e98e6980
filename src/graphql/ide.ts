// The GraphQL IDE at `GET /graphql` (browsers): GraphiQL served from this server's own
// node_modules, so it works with no internet access. Turned off with GRAPHQL_IDE=false.
import express, { type Request, type Router } from 'express';
import helmet from 'helmet';
import path from 'node:path';
import { projectRoot } from '../database/orm.js';

const IDE_DIR = path.join(projectRoot, 'src', 'graphql', 'ide');

function packageFile(pkg: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
}

/** URL name -> file. A fixed list: nothing else under /ide/ is served. */
export const IDE_ASSETS: Readonly<Record<string, string>> = {
  'react.production.min.js': packageFile('react', 'umd/react.production.min.js'),
  'react-dom.production.min.js': packageFile('react-dom', 'umd/react-dom.production.min.js'),
  'graphql-ws.min.js': packageFile('graphql-ws', 'umd/graphql-ws.min.js'),
  'graphiql.min.js': packageFile('graphiql', 'graphiql.min.js'),
  'graphiql.min.css': packageFile('graphiql', 'graphiql.min.css'),
  'ide.js': path.join(IDE_DIR, 'ide.js'),
  'ide.css': path.join(IDE_DIR, 'ide.css'),
};

/**
 * The page's own policy (helmet sends it in place of the API's): every script and style sheet
 * comes from this origin and no script is inline (GraphiQL sets style attributes and embeds its
 * fonts as data: URLs; the socket is same-origin). No upgrade-insecure-requests: a server on
 * plain HTTP (a laptop, a lab) would send the page's own requests to an HTTPS port that is not there.
 */
export const IDE_CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'font-src': ["'self'", 'data:'],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
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
  const page = path.join(IDE_DIR, 'index.html');

  const policy = helmet.contentSecurityPolicy({ useDefaults: false, directives: IDE_CONTENT_SECURITY_POLICY });
  router.get('/graphql', (req, res, next) => (wantsIde(req) ? policy(req, res, next) : next('route')), (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(page);
  });

  router.get('/ide/:file', (req, res, next) => {
    if (!Object.hasOwn(IDE_ASSETS, req.params.file)) return next();
    res.sendFile(IDE_ASSETS[req.params.file], { maxAge: '1h' });
  });
  return router;
}
