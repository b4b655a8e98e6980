// Bootstraps GraphiQL for vyos-vm-api: the API key from the bar above goes to every HTTP request
// as `Authorization: Bearer <key>` and to graphql-ws as connectionParams.authorization.
// Bundled with its dependencies by ide-bundle.ts at build time into dist/ide/ (served from there),
// so the page loads nothing but this server's own files under a `script-src 'self'` policy.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { createClient } from 'graphql-ws';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import './ide.css';

// Monaco's language services run in workers: our own files too (`worker-src 'self'`, no blob:).
globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    const name = label === 'json' ? 'json' : label === 'graphql' ? 'graphql' : 'editor';
    return new Worker(`/ide/${name}.worker.js`);
  },
};

const STORAGE_KEY = 'vyos-vm-api:api-key';
const httpUrl = location.origin + '/graphql';
const wsUrl = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/graphql';
const input = document.getElementById('api-key');
const status = document.getElementById('key-status');
const container = document.getElementById('graphiql');
let root = null;
let wsClient = null;

const DEFAULT_QUERY = [
  '# Paste an API key above, then run (Ctrl-Enter).',
  '# Subscriptions run over graphql-ws on the same path, e.g.',
  '#   subscription { rollbackEvents { operation stage outcome reason } }',
  '',
  'query Vms {',
  '  vms(first: 10) {',
  '    totalCount',
  '    edges { node { id name internalIp portRules { ruleNumber protocol externalPort internalPort enabled } } }',
  '  }',
  '}',
  '',
].join('\n');

function readKey() {
  try {
    return localStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return '';
  }
}
function storeKey(key) {
  try {
    if (key) localStorage.setItem(STORAGE_KEY, key);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // private mode: the key lives for this page only
  }
}

// A new key means a new socket: graphql-ws authenticates once, when the connection opens.
function mount(key) {
  if (wsClient) wsClient.dispose();
  wsClient = createClient({ url: wsUrl, lazy: true, connectionParams: key ? { authorization: 'Bearer ' + key } : {} });
  const fetcher = createGraphiQLFetcher({ url: httpUrl, headers: key ? { authorization: 'Bearer ' + key } : {}, wsClient });
  root ??= createRoot(container);
  root.render(createElement(GraphiQL, { fetcher, defaultQuery: DEFAULT_QUERY, shouldPersistHeaders: false }));
  status.textContent = key ? 'using key ' + key.slice(0, 8) + '…' : 'no key: only introspection works';
}

document.getElementById('key-bar').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = input.value.trim();
  storeKey(key);
  mount(key);
});
document.getElementById('forget-key').addEventListener('click', () => {
  input.value = '';
  storeKey('');
  mount('');
});

input.value = readKey();
mount(input.value);
