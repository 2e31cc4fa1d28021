'use strict';
// One promise-returning entry point over both handler styles (callback and async), and one outcome vocabulary
// shared with the Python side: "allowed", "rejected" (exactly Unauthorized) or a failure message.
const path = require('path');

const IMPLEMENTATIONS = { original: 'original.js', 'aws-jwt-verify': 'aws-jwt-verify.js' };

function load(name) {
  const file = IMPLEMENTATIONS[name];
  if (!file) {
    throw new Error(`unknown implementation ${name}`);
  }
  const { handler } = require(path.join(__dirname, file));
  if (handler.length >= 3) {
    return (event) =>
      new Promise((resolve, reject) => {
        handler(event, {}, (error, result) => (error ? reject(error) : resolve(result)));
      });
  }
  return (event) => handler(event, {});
}

function classify(settled) {
  if (settled.status === 'fulfilled') {
    const statements = (settled.value && settled.value.policyDocument && settled.value.policyDocument.Statement) || [];
    return statements.some((statement) => statement.Effect === 'Allow') ? 'allowed' : 'deny policy';
  }
  const reason = settled.reason;
  const message = typeof reason === 'string' ? reason : reason && reason.message;
  return message === 'Unauthorized' ? 'rejected' : `${(reason && reason.name) || 'Error'}: ${String(message).slice(0, 80)}`;
}

function tokenEvent(token) {
  return { type: 'TOKEN', authorizationToken: `Bearer ${token}`, methodArn: process.env.BENCH_METHOD_ARN };
}

module.exports = { load, classify, tokenEvent };
