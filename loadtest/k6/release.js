// Steady load on your stack while `zdd-release deploy` runs, judged like the driver's analysis.
//
//   k6 run -e BASE_URL=https://api.example.com loadtest/k6/release.js
//   k6 run -e BASE_URL=https://api.example.com -e RATE=50 -e DURATION=15m -e VERSIONS=1.4.0,1.5.0 \
//          -e ABORT=true loadtest/k6/release.js
//
// Thresholds come from thresholds.json beside this file, which holds the driver's analysis defaults
// (driver/core/analysis.py; a test fails when they drift apart):
//   - http_req_failed <= max_error_rate: 5xx answers and requests with no answer, as the driver counts
//     (4xx are the client's and are not failures: the response callback below says so);
//   - p(99) of http_req_waiting <= max_p99_seconds: the time to the first byte, the closest k6 has to
//     ALB's TargetResponseTime (it also holds the network between k6 and the load balancer);
//   - Apdex >= min_apdex, with the driver's T (apdex_t_seconds, 0.5 s): each response scores 1 when its
//     http_req_waiting is <= T, 0.5 when <= 4T, else 0, and a request with no answer 0; the `apdex`
//     metric's average is the Apdex, (PR(:T) + PR(:4T)) / 2 as the driver reads it from CloudWatch;
//   - at least min_requests requests.
// If your release overrides the driver's thresholds (an analysis file, --max-error-rate, --max-p99,
// --min-apdex), edit thresholds.json the same way. k6 judges the whole run; the driver judges every step's window.
//
// Environment: BASE_URL (required), PATH_QUERY (default /work?user=), RATE whole requests/s (default 20),
// DURATION (default 10m), USERS distinct user ids appended to PATH_QUERY (default 1000),
// VERSION_HEADER (default x-app-version), VERSIONS (e.g. v1,v2: the versions the end-of-test summary
// counts one by one; k6's summary shows a metric's total only, never per tag, unless a threshold names
// the tag), ABORT=true to stop the run at the first crossed threshold (after 30 s).

import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const limits = JSON.parse(open('./thresholds.json'));

const BASE_URL = (__ENV.BASE_URL || '').replace(/\/+$/, '');
const PATH_QUERY = __ENV.PATH_QUERY || '/work?user=';
const RATE = Number(__ENV.RATE || 20);
const DURATION = __ENV.DURATION || '10m';
const USERS = Number(__ENV.USERS || 1000);
const VERSION_HEADER = __ENV.VERSION_HEADER || 'x-app-version';
const ABORT = __ENV.ABORT === 'true';
const VERSIONS = (__ENV.VERSIONS || '').split(',').map((v) => v.trim()).filter((v) => v !== '');

if (!/^https?:\/\//.test(BASE_URL)) {
  throw new Error('BASE_URL: set it to your stack\'s URL, e.g. -e BASE_URL=https://api.example.com');
}
if (!PATH_QUERY.startsWith('/')) {
  throw new Error(`PATH_QUERY: must start with /, got ${__ENV.PATH_QUERY}`);
}
// k6 takes whole rates only: 2.5 would fail later in k6's option parsing without naming RATE.
if (!(Number.isInteger(RATE) && RATE >= 1 && RATE <= 10000)) {
  throw new Error(`RATE: must be a whole number of requests/s, 1-10000, got ${__ENV.RATE}`);
}
// Go durations as k6 reads them (90s, 10m, 1h30m); k6's own error would not name DURATION.
if (!(/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(DURATION) && /[1-9]/.test(DURATION))) {
  throw new Error(`DURATION: must be a positive k6 duration such as 90s, 10m or 1h30m, got ${__ENV.DURATION}`);
}
if (!(Number.isInteger(USERS) && USERS >= 1)) {
  throw new Error(`USERS: must be a whole number >= 1, got ${__ENV.USERS}`);
}
if (!['true', 'false', ''].includes(__ENV.ABORT || '')) {
  throw new Error(`ABORT: must be true or false, got ${__ENV.ABORT}`);
}
if (VERSIONS.some((v) => !/^[A-Za-z0-9._\/-]+$/.test(v))) {
  throw new Error(`VERSIONS: a comma list of versions (letters, digits, . _ / -), got ${__ENV.VERSIONS}`);
}

// A 4xx is an answer: only 5xx and no answer fail a request, as in the driver's analysis.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 499 }));

const byVersion = new Counter('responses_by_version');
const apdex = new Trend('apdex');
const APDEX_T_MS = limits.apdex_t_seconds * 1000;

export const options = {
  scenarios: {
    release: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.max(2, Math.ceil(RATE / 2)),
      maxVUs: Math.max(10, RATE * 4),
    },
  },
  thresholds: {
    http_req_failed: [
      { threshold: `rate<=${limits.max_error_rate}`, abortOnFail: ABORT, delayAbortEval: '30s' },
    ],
    http_req_waiting: [
      { threshold: `p(99)<=${limits.max_p99_seconds * 1000}`, abortOnFail: ABORT, delayAbortEval: '30s' },
    ],
    apdex: [{ threshold: `avg>=${limits.min_apdex}`, abortOnFail: ABORT, delayAbortEval: '30s' }],
    http_reqs: [`count>=${limits.min_requests}`],
    // Always true; only there so the summary (and --summary-export) shows each version's count.
    ...Object.fromEntries(
      (VERSIONS.length ? [...VERSIONS, 'none'] : []).map((v) => [`responses_by_version{version:${v}}`, ['count>=0']]),
    ),
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
};

export default function () {
  const user = `u${Math.floor(Math.random() * USERS)}`;
  const res = http.get(`${BASE_URL}${PATH_QUERY}${user}`, { tags: { name: 'release-load' } });
  byVersion.add(1, { version: res.headers[headerKey(res.headers, VERSION_HEADER)] || 'none' });
  apdex.add(apdexScore(res, APDEX_T_MS));
  check(res, { 'answered without a 5xx': (r) => r.status > 0 && r.status < 500 });
}

// One response's Apdex score: satisfied (time to first byte <= T) 1, tolerating (<= 4T) 0.5, else 0.
export function apdexScore(res, tMs) {
  if (!res || !(res.status > 0)) return 0;
  const waiting = res.timings ? res.timings.waiting : Infinity;
  if (waiting <= tMs) return 1;
  return waiting <= 4 * tMs ? 0.5 : 0;
}

// k6 canonicalizes header names (X-App-Version); find ours whatever its case.
export function headerKey(headers, name) {
  const wanted = name.toLowerCase();
  return Object.keys(headers || {}).find((key) => key.toLowerCase() === wanted);
}
