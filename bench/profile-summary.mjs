/**
 * Reads a `--cpu-prof` profile of bench/overhead.bench.mjs (`BENCH_PROFILE=dir`) over the timed
 * calls of one case only, and prints µs per call by package, by function (self time) and,
 * for functions matching a pattern, inclusive of what they call:
 *
 *     node bench/profile-summary.mjs dir/v2-r0.cpuprofile 'openai chat' [inclusiveRegex]
 *
 * The case's window and µs per call come from the `.windows.jsonl` file beside the profile
 * (the app's own hrtime, the monotonic clock V8's profile timestamps use).
 */
import { readFileSync } from 'node:fs';

const [file, caseName, inclusive] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const lines = readFileSync(file.replace(/\.cpuprofile$/, '.windows.jsonl'), 'utf8').trim();
const run = lines
  .split('\n')
  .map((l) => JSON.parse(l))
  .find((r) => r.case === caseName);
if (run === undefined) throw new Error(`no case ${caseName} in ${file}`);
const [from, to] = run.window;
const calls = (to - from) / run.usPerCall;

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** The package a script belongs to (the last node_modules segment), or what else it is. */
const where = (url) => {
  if (!url) return '(vm)';
  const m = url.match(/node_modules\/(@[^/]+\/[^/]+|[^/]+)/g);
  if (m) return m[m.length - 1].replace('node_modules/', '');
  if (url.includes('/dist/')) return 'spanledger';
  if (url.startsWith('node:')) return 'node';
  return url.split('/').slice(-2).join('/');
};
const frame = (n) =>
  `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const self = new Map();
const byPackage = new Map();
const incl = new Map();
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
const pattern = inclusive ? new RegExp(inclusive) : undefined;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i];
  if (t < from || t > to) continue;
  // A sample stands for the time until the next one.
  const dt = profile.timeDeltas[i + 1] ?? 0;
  const n = nodes.get(profile.samples[i]);
  add(self, frame(n), dt);
  const pkg = where(n.callFrame.url);
  add(byPackage, pkg === '(vm)' ? `(vm) ${n.callFrame.functionName}` : pkg, dt);
  if (pattern) {
    const seen = new Set();
    for (let id = n.id; id !== undefined; id = parent.get(id)) {
      const k = frame(nodes.get(id));
      if (pattern.test(k) && !seen.has(k)) {
        seen.add(k);
        add(incl, k, dt);
      }
    }
  }
}

const top = (m, count) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([k, v]) => `${(v / calls).toFixed(1).padStart(8)} µs/call  ${k}`)
    .join('\n');
console.log(`${caseName}: ${calls.toFixed(0)} calls, ${run.usPerCall.toFixed(0)} µs/call`);
console.log(`\n-- by package (self time)\n${top(byPackage, 25)}`);
console.log(`\n-- by function (self time)\n${top(self, 40)}`);
if (pattern) console.log(`\n-- inclusive\n${top(incl, 40)}`);
