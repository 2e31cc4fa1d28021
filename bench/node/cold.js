'use strict';
// One cold start: a fresh `node` that loads an implementation, fetches the key set from the loopback server and
// decides one token (BENCH_TOKEN). "bare" only starts Node, to show what the runtime itself costs.
const name = process.argv[2];
if (name !== 'bare') {
  const { load, classify, tokenEvent } = require('./decide.js');
  const decide = load(name);
  Promise.allSettled([decide(tokenEvent(process.env.BENCH_TOKEN))]).then(([settled]) => {
    process.stdout.write(`${classify(settled)}\n`);
  });
} else {
  process.stdout.write('bare\n');
}
