// A certified OpenID provider (npm's oidc-provider) for the browser suite, on a
// free loopback port. It prints `listening PORT`, reads the registry's callback
// URL as one line on stdin (the registry's own address is known only once the
// provider's is), registers the registry as a confidential client with PKCE
// required, prints `ready` and serves until killed. Its built-in development
// sign-in takes any login and password; the login is the person's subject id.
import http from 'node:http';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const moduleDir = process.env.OIDC_PROVIDER_MODULE_DIR;
if (!moduleDir) {
  console.error('OIDC_PROVIDER_MODULE_DIR is not set: run ./scripts/test.sh, which installs oidc-provider');
  process.exit(2);
}
const { default: Provider } = await import(pathToFileURL(`${moduleDir}/lib/index.js`).href);

const [clientId, clientSecret] = process.argv.slice(2);
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
console.log(`listening ${port}`);

const lines = readline.createInterface({ input: process.stdin });
const redirectUri = await new Promise((resolve) => lines.once('line', resolve));

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri.trim()],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['preferred_username'], email: ['email', 'email_verified'] },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: sub, email: `${sub}@example.test`, email_verified: true };
      },
    };
  },
  cookies: { keys: ['openworkflow-registry-browser-suite'] },
});
// The registry and this provider talk over plain HTTP on loopback only.
provider.proxy = false;
server.on('request', provider.callback());
console.log('ready');
