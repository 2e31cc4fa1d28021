'use strict';
// Long-lived worker for the warm rounds: one JSON line in ({"tokens": [...]}), one JSON line out with the time of
// the decision loop alone (events are built before the clock starts) and the outcome counts.
const readline = require('readline');
const { load, classify, tokenEvent } = require('./decide.js');

const decide = load(process.argv[2]);

async function runBatch(tokens) {
  const events = tokens.map(tokenEvent);
  const settled = new Array(events.length);
  const started = process.hrtime.bigint();
  for (let i = 0; i < events.length; i += 1) {
    try {
      settled[i] = { status: 'fulfilled', value: await decide(events[i]) };
    } catch (reason) {
      settled[i] = { status: 'rejected', reason };
    }
  }
  const finished = process.hrtime.bigint();
  const reply = { ns: Number(finished - started), calls: events.length, allowed: 0, rejected: 0, failures: {} };
  for (const outcome of settled.map(classify)) {
    if (outcome === 'allowed' || outcome === 'rejected') {
      reply[outcome] += 1;
    } else {
      reply.failures[outcome] = (reply.failures[outcome] || 0) + 1;
    }
  }
  return reply;
}

async function main() {
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    const { tokens } = JSON.parse(line);
    process.stdout.write(`${JSON.stringify(await runBatch(tokens))}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
