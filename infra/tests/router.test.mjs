// The CloudFront viewer-request function, run exactly as the template deploys it:
// its code is read out of infra/template.yaml, so the test and the deployment
// cannot drift apart. Run with: node --test infra/tests/router.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const template = readFileSync(new URL('../template.yaml', import.meta.url), 'utf8');

/** The literal block under `FunctionCode: |` of resource `name`, dedented. */
function functionCode(name) {
  const lines = template.split('\n');
  const resource = lines.findIndex((l) => l === `  ${name}:`);
  assert.notEqual(resource, -1, `template.yaml has a ${name} resource`);
  const offset = lines.slice(resource).findIndex((l) => /^\s+FunctionCode: (!Sub )?\|\s*$/.test(l));
  assert.notEqual(offset, -1, `${name} has an inline FunctionCode block`);
  const start = resource + offset;
  const body = [];
  let indent = null;
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') { body.push(''); continue; }
    const width = line.length - line.trimStart().length;
    if (indent === null) indent = width;
    if (width < indent) break;
    body.push(line.slice(indent));
  }
  return body.join('\n');
}

/** Loads the function, as a stack with `PrivateRegistry` = `privateRegistry`
 *  deploys it, with a stand-in for the `cloudfront` module that records which
 *  origin it selected. */
function loadRouter(privateRegistry = 'false') {
  const code = functionCode('EdgeRouter').replaceAll('${PrivateRegistry}', privateRegistry);
  assert.doesNotMatch(code, /\$\{[A-Za-z]/, 'no other stack value is substituted');
  assert.match(code, /^import cf from 'cloudfront';/, 'cloudfront-js-2.0 origin helpers are imported');
  const selected = [];
  const groups = [];
  const context = vm.createContext({
    cf: {
      selectRequestOriginById: (id) => selected.push(id),
      createRequestOriginGroup: (group) => groups.push(JSON.parse(JSON.stringify(group))),
    },
  });
  vm.runInContext(code.replace(/^import cf from 'cloudfront';/, ''), context);
  return (request) => {
    selected.length = 0;
    groups.length = 0;
    const out = context.handler({ version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '203.0.113.10' }, request });
    // An origin group's primary is where the request goes; its secondary is
    // where a miss (its failover statuses) goes instead.
    const group = groups.at(-1);
    const origin = group ? group.originIds[0].originId : (selected.length ? selected.at(-1) : 'api');
    const fallback = group
      ? { origin: group.originIds[1].originId, statuses: group.failoverCriteria.statusCodes }
      : undefined;
    return { request: out, origin, fallback, selections: selected.length + groups.length };
  };
}

/** CloudFront's shape of a query string: `{name: {value}}`, repeated names as
 *  `{value, multiValue: [{value}, ...]}`. */
function querystringOf(text) {
  const out = {};
  for (const pair of text ? text.split('&') : []) {
    const [name, value = ''] = pair.split('=');
    if (out[name]) {
      out[name].multiValue = out[name].multiValue || [{ value: out[name].value }];
      out[name].multiValue.push({ value });
    } else {
      out[name] = { value };
    }
  }
  return out;
}

function viewerRequest(method, uri, headers = {}, query = '') {
  return {
    method,
    uri,
    querystring: querystringOf(query),
    headers: { host: { value: 'registry.example.com' }, ...headers },
    cookies: {},
  };
}

const route = loadRouter();
const privateRoute = loadRouter('true');
const AUTH = { authorization: { value: 'Bearer sk_0123' } };
const ARTIFACT = '/artifacts/github/1.2.0/0f343b0931126a20f133d67c2b018a3b59e7c4e5d1e46b3a9c7b1d2e3f4a5b6c.zip';

test('public GETs and HEADs of artifacts and index objects go to the bucket', () => {
  for (const [method, uri] of [
    ['GET', ARTIFACT],
    ['HEAD', ARTIFACT],
    ['GET', '/index/plugins/github.json'],
    ['GET', '/index/plugins/github/1.2.0+build.5.json'],
  ]) {
    const { origin, selections } = route(viewerRequest(method, uri));
    assert.equal(origin, 'artifacts', `${method} ${uri}`);
    assert.equal(selections, 1);
  }
});

test('static reads drop Authorization so every caller shares one cached copy', () => {
  const { request, origin } = route(viewerRequest('GET', ARTIFACT, AUTH));
  assert.equal(origin, 'artifacts');
  assert.equal(request.headers.authorization, undefined);
  assert.equal(request.uri, ARTIFACT, 'the object key is the path, unchanged');
});

test('every write goes to the API, whatever the path', () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    for (const uri of ['/plugins', '/plugins/github', ARTIFACT, '/index/plugins/github.json', '/uploads']) {
      const { origin, request } = route(viewerRequest(method, uri, AUTH));
      assert.equal(origin, 'api', `${method} ${uri}`);
      assert.deepEqual(request.headers.authorization, AUTH.authorization, 'the API sees the key');
    }
  }
});

test('dynamic reads go to the API with their key', () => {
  for (const uri of ['/plugins/search', '/search', '/auth/keys', '/openapi.json', '/healthz']) {
    const { origin, request } = route(viewerRequest('GET', uri, AUTH));
    assert.equal(origin, 'api', uri);
    assert.deepEqual(request.headers.authorization, AUTH.authorization);
  }
});

test('nothing outside the public prefixes is ever read from the bucket', () => {
  for (const uri of [
    '/uploads/prn_0011223344556677/upl_00112233445566778899aabbccddeeff.zip',
    '/artifacts/../uploads/prn_0011223344556677/x.zip',
    '/index/..%2Fuploads/x',
    '//artifacts/github/1.2.0/x.zip',
    '/artifacts//github',
    '/artifacts/',
    '/index',
    '/artifactsx/github',
    '/artifacts/github/<script>',
  ]) {
    assert.equal(route(viewerRequest('GET', uri)).origin, 'api', uri);
  }
});

// The same table registry-index's `edge_route` is tested against, so the local
// server and CloudFront map every protocol URL alike.
const EDGE_CASES = JSON.parse(readFileSync(new URL('./edge-routes.json', import.meta.url), 'utf8'));

test('protocol URLs map onto index objects exactly as the Rust mapping does', () => {
  assert.ok(EDGE_CASES.length >= 10);
  for (const c of EDGE_CASES) {
    const headers = c.accept === undefined ? AUTH : { ...AUTH, accept: { value: c.accept } };
    const { origin, request, fallback, selections } = route(viewerRequest(c.method, c.uri, headers, c.querystring));
    assert.equal(origin, c.origin, c.name);
    assert.ok(selections <= 1, `${c.name}: one origin decision`);
    if (c.fallback === undefined) {
      assert.equal(fallback, undefined, `${c.name}: a miss is the bucket's 404`);
    } else {
      assert.deepEqual(fallback, { origin: c.fallback, statuses: [404] }, `${c.name}: a miss goes to the API`);
    }
    if (c.origin === 'artifacts') {
      assert.equal(request.uri, '/' + c.key, c.name);
      assert.equal(Object.keys(request.querystring).length, 0, `${c.name}: one cache entry per object`);
      assert.equal(request.headers.authorization, undefined, c.name);
    }
  }
});

test('an unpublished version is answered 410 from its marked index object', () => {
  const code = functionCode('EdgeStatus');
  const context = vm.createContext({});
  vm.runInContext(code, context);
  const respond = (headers) => context.handler({
    version: '1.0', context: { eventType: 'viewer-response' }, request: {}, response: { statusCode: 200, statusDescription: 'OK', headers },
  });
  const gone = respond({ 'x-amz-meta-status': { value: '410' }, 'content-type': { value: 'application/problem+json' } });
  assert.equal(gone.statusCode, 410);
  assert.equal(gone.headers['x-amz-meta-status'], undefined, 'the marker stays internal');
  assert.equal(respond({ 'content-type': { value: 'application/json' } }).statusCode, 200);
});

test('on a private registry every request goes to the API with its key, pages and index objects included', () => {
  const reads = ['/', '/plugins/github', '/index/plugins/github.json', '/index/pages/home.html', ARTIFACT, '/plugins/github/1.2.0/bundle'];
  for (const uri of reads) {
    for (const accept of ['application/json', 'text/html']) {
      const headers = { ...AUTH, accept: { value: accept } };
      const { origin, request, selections } = privateRoute(viewerRequest('GET', uri, headers, uri === '/plugins/github' ? 'version=1.2.0' : ''));
      assert.equal(origin, 'api', `${uri} (${accept})`);
      assert.equal(selections, 0);
      assert.deepEqual(request.headers.authorization, AUTH.authorization, 'the API sees the key');
      assert.equal(request.uri, uri, 'the path is not rewritten onto a bucket key');
    }
  }
  assert.equal(route(viewerRequest('GET', '/plugins/github')).origin, 'artifacts', 'a public registry still reads from the bucket');
});
