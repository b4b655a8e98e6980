// Bootstraps GraphiQL for vyos-vm-api: the API key from the bar above goes to every HTTP request
// as `Authorization: Bearer <key>` and to graphql-ws as connectionParams.authorization.
// A file of its own (not inline) so a `script-src 'self'` Content-Security-Policy works.
(function () {
  'use strict';
  var STORAGE_KEY = 'vyos-vm-api:api-key';
  var httpUrl = location.origin + '/graphql';
  var wsUrl = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/graphql';
  var input = document.getElementById('api-key');
  var status = document.getElementById('key-status');
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  var wsClient = null;

  var DEFAULT_QUERY = [
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
    try { return localStorage.getItem(STORAGE_KEY) || ''; } catch (e) { return ''; }
  }
  function storeKey(key) {
    try {
      if (key) localStorage.setItem(STORAGE_KEY, key);
      else localStorage.removeItem(STORAGE_KEY);
    } catch (e) { /* private mode: the key lives for this page only */ }
  }

  // A new key means a new socket: graphql-ws authenticates once, when the connection opens.
  function mount(key) {
    if (wsClient) wsClient.dispose();
    wsClient = graphqlWs.createClient({
      url: wsUrl,
      lazy: true,
      connectionParams: key ? { authorization: 'Bearer ' + key } : {},
    });
    var fetcher = GraphiQL.createFetcher({
      url: httpUrl,
      headers: key ? { authorization: 'Bearer ' + key } : {},
      wsClient: wsClient,
    });
    root.render(React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      shouldPersistHeaders: false,
    }));
    status.textContent = key ? 'using key ' + key.slice(0, 8) + '…' : 'no key: only introspection works';
  }

  document.getElementById('key-bar').addEventListener('submit', function (event) {
    event.preventDefault();
    var key = input.value.trim();
    storeKey(key);
    mount(key);
  });
  document.getElementById('forget-key').addEventListener('click', function () {
    input.value = '';
    storeKey('');
    mount('');
  });

  input.value = readKey();
  mount(input.value);
})();
