// Runs panva's oidc-provider on loopback for the end-to-end tests (tests/e2e/).
//
// Why a script and not a fixture in Python: the point of the e2e suite is a real, independent OpenID provider
// whose tokens the authorizer has never seen shaped by our own code. Everything the tests vary comes in through
// environment variables so one script serves every scenario (key rotation, foreign issuer, expired tokens):
//   PROVIDER_PORT            port on 127.0.0.1 (the issuer is http://127.0.0.1:PORT)
//   PROVIDER_JWKS_FILE       JSON file {"keys": [private JWKs]}; the first RS256 key signs
//   PROVIDER_AUDIENCE        `aud` of the access tokens (the API's audience from the template)
//   PROVIDER_RESOURCE        resource indicator (absolute URI) that selects that audience
//   PROVIDER_SCOPES          scopes the resource server offers, space-separated
//   PROVIDER_CLIENT_ID / PROVIDER_CLIENT_SECRET   the confidential client_credentials client
//   PROVIDER_CLOCK_OFFSET_SECONDS   shifts the provider's clock, so it can issue already-expired tokens
// It prints one line "READY <issuer>" on stdout once it accepts connections.
import { readFileSync } from 'node:fs';
import process from 'node:process';

const env = (name) => {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(`provider.mjs: missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
};

const offsetMs = Number(process.env.PROVIDER_CLOCK_OFFSET_SECONDS || '0') * 1000;
if (offsetMs !== 0) {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + offsetMs;
}

// Imported after the clock patch so every module sees the same clock.
const { default: Provider } = await import('oidc-provider');

const port = Number(env('PROVIDER_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const jwks = JSON.parse(readFileSync(env('PROVIDER_JWKS_FILE'), 'utf8'));
const audience = env('PROVIDER_AUDIENCE');
const resource = env('PROVIDER_RESOURCE');
const scopes = env('PROVIDER_SCOPES');

const provider = new Provider(issuer, {
  jwks,
  clients: [
    {
      client_id: env('PROVIDER_CLIENT_ID'),
      client_secret: env('PROVIDER_CLIENT_SECRET'),
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: scopes,
    },
  ],
  scopes: scopes.split(' '),
  ttl: { ClientCredentials: 600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resourceIndicator) => {
        if (resourceIndicator !== resource) {
          throw new Provider.errors.InvalidTarget();
        }
        return {
          scope: scopes,
          audience,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
