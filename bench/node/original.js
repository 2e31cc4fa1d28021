'use strict';
// The Node.js original: the 2018 "NodeJS Lambda Authorizer for JWT Access Tokens" post (jsonwebtoken + jwks-rsa,
// callback style), rebuilt from its public description. Changes, each needed for equal work or to run on today's
// versions of the same two packages:
//  - verificationOptions sets audience and issuer, as the post tells readers to, so it checks what the gate checks;
//    algorithms is an array (jsonwebtoken 9 documents a list).
//  - getSigningKey passes a lookup error on instead of reading a key that does not exist (the post's version
//    throws a TypeError there, which would end the benchmark's worker on the first unknown kid).
const jwt = require('jsonwebtoken');
const jwksClient = require('jwks-rsa');

const keyClient = jwksClient({
  cache: true,
  cacheMaxAge: 86400000, // value in ms
  rateLimit: true,
  jwksRequestsPerMinute: 10,
  strictSsl: true,
  jwksUri: process.env.JWKS_URI,
});

const verificationOptions = {
  algorithms: ['RS256'],
  audience: process.env.AUDIENCE,
  issuer: process.env.ISSUER,
};

const allow = {
  principalId: 'user',
  policyDocument: {
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: process.env.RESOURCE }],
  },
};

function getSigningKey(header, callback) {
  keyClient.getSigningKey(header.kid, function (err, key) {
    if (err) {
      callback(err);
      return;
    }
    const signingKey = key.publicKey || key.rsaPublicKey;
    callback(null, signingKey);
  });
}

function extractTokenFromHeader(e) {
  if (e.authorizationToken && e.authorizationToken.split(' ')[0] === 'Bearer') {
    return e.authorizationToken.split(' ')[1];
  }
  return e.authorizationToken;
}

function validateToken(token, callback) {
  jwt.verify(token, getSigningKey, verificationOptions, function (error) {
    if (error) {
      callback('Unauthorized');
    } else {
      callback(null, allow);
    }
  });
}

exports.handler = (event, context, callback) => {
  const token = extractTokenFromHeader(event) || '';
  validateToken(token, callback);
};
