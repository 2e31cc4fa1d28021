'use strict';
// One cold start: a fresh `node` that loads an implementation, fetches the key set from the loopback server and
// decides one token (BENCH_TOKEN). "bare" only starts Node, to show what the runtime itself costs. The last two
// lines on stdout are peak_rss_kib=N (this process's own VmHWM: getrusage would also count the spawning parent's
// pages after a vfork-based spawn) and the decision.
const fs = require('fs');

function peakRssKib() {
  try {
    const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
    if (line) {
      return Number(line.split(/\s+/)[1]);
    }
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS;
}

function finish(decision) {
  process.stdout.write(`peak_rss_kib=${peakRssKib()}\n${decision}\n`);
}

const name = process.argv[2];
if (name === 'bare') {
  finish('bare');
} else {
  const { load, classify, tokenEvent } = require('./decide.js');
  const decide = load(name);
  Promise.allSettled([decide(tokenEvent(process.env.BENCH_TOKEN))]).then(([settled]) => finish(classify(settled)));
}
