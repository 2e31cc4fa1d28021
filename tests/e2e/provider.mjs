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
// Sender-constrained tokens (issue 12; tests/e2e/test_e2e_sender_constrained.py), each off unless set:
//   PROVIDER_DPOP=1          features.dPoP: a token request with a DPoP proof gets a token with cnf.jkt
//   PROVIDER_MTLS_PORT       features.mTLS.certificateBoundAccessTokens: a second listener, HTTPS on this port,
//                            that requires a client certificate from PROVIDER_MTLS_CA (PEM) and presents
//                            PROVIDER_MTLS_CERT / PROVIDER_MTLS_KEY; discovery names its token endpoint in
//                            mtls_endpoint_aliases (RFC 8705 section 5). The client PROVIDER_MTLS_CLIENT_ID
//                            (same secret) has tls_client_certificate_bound_access_tokens, so its tokens, got
//                            over that listener, carry cnf["x5t#S256"] of the certificate it presented.
// It prints one line "READY <issuer>" on stdout once it accepts connections (on every listener).
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
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
const dpop = process.env.PROVIDER_DPOP === '1';
const mtlsPort = process.env.PROVIDER_MTLS_PORT ? Number(process.env.PROVIDER_MTLS_PORT) : undefined;

const client = (clientId, extra) => ({
  client_id: clientId,
  client_secret: env('PROVIDER_CLIENT_SECRET'),
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: scopes,
  ...extra,
});
const clients = [client(env('PROVIDER_CLIENT_ID'), {})];
if (mtlsPort !== undefined) {
  clients.push(client(env('PROVIDER_MTLS_CLIENT_ID'), { tls_client_certificate_bound_access_tokens: true }));
}

const provider = new Provider(issuer, {
  jwks,
  clients,
  scopes: scopes.split(' '),
  ttl: { ClientCredentials: 600 },
  ...(mtlsPort === undefined
    ? {}
    : { discovery: { mtls_endpoint_aliases: { token_endpoint: `https://127.0.0.1:${mtlsPort}/token` } } }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: dpop },
    mTLS: {
      enabled: mtlsPort !== undefined,
      certificateBoundAccessTokens: mtlsPort !== undefined,
      // The certificate the HTTPS listener verified against PROVIDER_MTLS_CA; none over plain HTTP.
      getCertificate: (ctx) => ctx.socket.getPeerX509Certificate?.(),
    },
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

const listening = [];
const listen = (server, listenPort) =>
  new Promise((resolve) => {
    server.listen(listenPort, '127.0.0.1', resolve);
    listening.push(server);
  });
await listen(createHttpServer(provider.callback()), port);
if (mtlsPort !== undefined) {
  const tls = createHttpsServer(
    {
      cert: readFileSync(env('PROVIDER_MTLS_CERT')),
      key: readFileSync(env('PROVIDER_MTLS_KEY')),
      ca: readFileSync(env('PROVIDER_MTLS_CA')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    provider.callback(),
  );
  await listen(tls, mtlsPort);
}
process.stdout.write(`READY ${issuer}\n`);

let open = listening.length;
const stop = () =>
  listening.forEach((server) =>
    server.close(() => {
      open -= 1;
      if (open === 0) process.exit(0);
    }),
  );
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
