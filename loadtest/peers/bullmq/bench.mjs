// BullMQ side of `python -m loadtest.peers` (see ../README.md). Two commands:
//
//   node bench.mjs enqueue MESSAGES_JSON   sets the queue's global rate limit, adds every message
//   node bench.mjs worker                  one worker process: a Worker with PEERS_CONCURRENCY slots
//
// Environment: PEERS_REDIS_URL, PEERS_SIM_URL, PEERS_RATE_PER_SECOND, PEERS_CONCURRENCY,
// PEERS_EVOLUTION_API_KEY, PEERS_EVOLUTION_INSTANCE (the bench sets them all).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { Queue, Worker } from 'bullmq';

const QUEUE = 'sends';
// addBulk is one MULTI per call: 1,000 jobs keep each call well under Redis's command size limits.
const BULK_JOBS = 1000;
// BullMQ's "Going to production" guide: keep a handful of completed jobs and more failed ones
// instead of every job forever.
const JOB_OPTIONS = { removeOnComplete: 1000, removeOnFail: 5000 };

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

function connection() {
  const url = new URL(env('PEERS_REDIS_URL'));
  return { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
}

async function enqueue(file) {
  const messages = JSON.parse(readFileSync(file, 'utf8'));
  const queue = new Queue(QUEUE, { connection: connection(), defaultJobOptions: JOB_OPTIONS });
  const started = performance.now();
  // The current way to rate-limit a queue across every worker (docs: guide/queues/global-rate-limit).
  await queue.setGlobalRateLimit(Number(env('PEERS_RATE_PER_SECOND')), 1000);
  for (let start = 0; start < messages.length; start += BULK_JOBS) {
    const jobs = messages.slice(start, start + BULK_JOBS).map((data) => ({ name: 'sendText', data }));
    await queue.addBulk(jobs);
  }
  const waiting = await queue.getWaitingCount();
  await queue.close();
  if (waiting !== messages.length) throw new Error(`${waiting} jobs waiting, expected ${messages.length}`);
  const seconds = Math.round(performance.now() - started) / 1000;
  console.log(JSON.stringify({ enqueued: waiting, seconds }));
}

function sender(concurrency) {
  // One keep-alive agent per process, one socket per concurrent job (what zapq's client does).
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const sim = new URL(env('PEERS_SIM_URL'));
  const path = `/message/sendText/${env('PEERS_EVOLUTION_INSTANCE')}`;
  const apikey = env('PEERS_EVOLUTION_API_KEY');
  return (data) =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ number: data.number, text: data.text });
      const headers = {
        apikey,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      };
      const options = { agent, host: sim.hostname, port: sim.port, method: 'POST', path, headers };
      const request = http.request(options, (response) => {
        response.resume();
        response.on('end', () =>
          response.statusCode === 201
            ? resolve()
            : reject(new Error(`sendText answered ${response.statusCode}`)),
        );
      });
      request.on('error', reject);
      request.end(body);
    });
}

function work() {
  const concurrency = Number(env('PEERS_CONCURRENCY'));
  const send = sender(concurrency);
  const worker = new Worker(QUEUE, (job) => send(job.data), { connection: connection(), concurrency });
  worker.on('error', (error) => console.error(error));
  const stop = async () => {
    await worker.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const [command, argument] = process.argv.slice(2);
if (command === 'enqueue') {
  await enqueue(argument);
} else if (command === 'worker') {
  work();
} else {
  console.error('usage: node bench.mjs enqueue MESSAGES_JSON | worker');
  process.exit(2);
}
