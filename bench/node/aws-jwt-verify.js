'use strict';
// aws-jwt-verify (AWS's own library) as a REST TOKEN authorizer: JwtRsaVerifier with issuer and audience, keys from
// the JWKS URI, cached by its SimpleJwksCache (with its penalty box against unknown-kid floods).
//
// Its default fetcher uses Node's https.request, which refuses an http: URL ("Protocol "http:" not supported"), and
// the bench's JWKS server is plain http on 127.0.0.1. The library's documented extension point is a custom Fetcher
// given to SimpleJwksCache (README: "Using a different Fetcher with SimpleJwksCache"); this one does the same GET
// over http. Everything else — cache, penalty box, parsing, verification — is the library's own code.
const http = require('http');
const { JwtRsaVerifier } = require('aws-jwt-verify');
const { SimpleJwksCache } = require('aws-jwt-verify/jwk');

class LoopbackFetcher {
  fetch(uri) {
    return new Promise((resolve, reject) => {
      http
        .get(uri, (response) => {
          if (response.statusCode !== 200) {
            response.resume();
            reject(new Error(`JWKS answered ${response.statusCode}`));
            return;
          }
          const chunks = [];
          response.on('data', (chunk) => chunks.push(chunk));
          response.on('end', () => {
            const body = Buffer.concat(chunks);
            resolve(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
          });
        })
        .on('error', reject);
    });
  }
}

const verifier = JwtRsaVerifier.create(
  { issuer: process.env.ISSUER, audience: process.env.AUDIENCE, jwksUri: process.env.JWKS_URI },
  { jwksCache: new SimpleJwksCache({ fetcher: new LoopbackFetcher() }) },
);

exports.handler = async (event) => {
  const [scheme, token] = (event.authorizationToken || '').split(' ');
  if (scheme !== 'Bearer' || !token) {
    throw new Error('Unauthorized');
  }
  let payload;
  try {
    payload = await verifier.verify(token);
  } catch {
    throw new Error('Unauthorized');
  }
  return {
    principalId: payload.sub,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
    },
  };
};
