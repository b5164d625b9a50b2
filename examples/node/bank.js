'use strict';
// The Raceway bank on Node.js: the lost update of two concurrent transfers,
// across two processes, written with the stock OpenTelemetry JS SDK and the
// small convention helper in raceway.js.
//
//   node bank.js serve --service ledger --listen 127.0.0.1:8091 [--mode racy|fixed] [--delay ms]
//   node bank.js serve --service teller --listen 127.0.0.1:8092 --ledger http://127.0.0.1:8091 [--mode racy|fixed] [--delay ms]
//   node bank.js load --targets http://127.0.0.1:8092,http://127.0.0.1:8091 [-n 8] [--concurrency 2] [--from alice] [--to bob]
//
// The ledger keeps the balances in memory and serves transfers itself; its
// GET and PUT /balance endpoints are the store the teller reads and writes,
// like a database (untracked: its client, the teller, tracks its reads and
// writes). An account's balance is thus state shared by two processes,
// tracked in both as the shared variable ledger/bank/accounts/<account>.balance.
//
//   racy:  a transfer reads a balance, pauses, writes it back, in the ledger
//          (in memory) and in the teller (GET, pause, PUT): two concurrent
//          transfers, one in each process, lose an update.
//   fixed: the teller hands the transfer to the ledger (POST /transfer),
//          which does every read-modify-write under one lock.
//
// The load sends transfer j to target j % (number of targets), from
// --concurrency workers, each a logical thread whose calls carry its clock:
// with --concurrency 1 every transfer is ordered after the previous one by
// the RPC edges, so even racy servers show no race.
//
// Spans go to OTEL_EXPORTER_OTLP_ENDPOINT (default http://127.0.0.1:4318),
// normally otelcol-raceway.

const telemetry = require('./telemetry'); // before node:http
const http = require('node:http');
const { parseArgs } = require('node:util');
const { setTimeout: sleep } = require('node:timers/promises');
const { Mutex } = require('./raceway');

const INITIAL_BALANCE = 1000;

function balanceVar(account) {
  return `ledger/bank/accounts/${account}.balance`;
}

// loopback checks that a host:port or URL names the loopback interface.
function loopback(hostport) {
  const { hostname, port } = new URL(hostport.includes('//') ? hostport : `http://${hostport}`);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) throw new Error(`${hostport}: not a loopback address`);
  return { host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) };
}

// transferQuery parses from, to and amount; it returns null when invalid.
function transferQuery(url) {
  const q = url.searchParams;
  const t = { from: q.get('from'), to: q.get('to'), amount: Number(q.get('amount')) };
  if (!t.from || !t.to || t.from === t.to || !Number.isInteger(t.amount) || t.amount <= 0) return null;
  return t;
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

// ledger: the balances, their store endpoints and local transfers.
function ledger({ rw, mode, delay }) {
  const balances = new Map();
  const accounts = new Mutex(); // fixed mode: held across each transfer
  const get = (account) => (balances.has(account) ? balances.get(account) : INITIAL_BALANCE);

  // add changes a balance by delta: a read, a pause, a write.
  async function add(account, delta) {
    const v = get(account);
    rw.read(balanceVar(account), v, { shared: true });
    await sleep(delay);
    balances.set(account, v + delta);
    rw.write(balanceVar(account), v, v + delta, { shared: true });
  }

  return async (req, res, url) => {
    const account = url.searchParams.get('account');
    if (req.method === 'GET' && url.pathname === '/balance' && account) {
      return reply(res, 200, { balance: get(account) });
    }
    if (req.method === 'PUT' && url.pathname === '/balance' && account) {
      const value = Number(url.searchParams.get('value'));
      if (!Number.isFinite(value)) return reply(res, 400, { error: 'want a numeric value' });
      balances.set(account, value);
      return reply(res, 204);
    }
    if (req.method === 'POST' && url.pathname === '/transfer') {
      const t = transferQuery(url);
      if (!t) return reply(res, 400, { error: 'want from, to (different) and a positive integer amount' });
      const move = async () => {
        await add(t.from, -t.amount);
        await add(t.to, t.amount);
      };
      if (mode === 'fixed') await rw.withLock(accounts, 'ledger.accounts', move);
      else await move();
      return reply(res, 204);
    }
    return reply(res, 404, { error: 'not found' });
  };
}

// teller: transfers through the ledger's store (racy) or handed to the
// ledger (fixed).
function teller({ rw, mode, delay, ledgerURL }) {
  async function call(method, path) {
    const res = await rw.request(method, ledgerURL + path);
    if (res.status < 200 || res.status > 299) throw new Error(`ledger ${method} ${path}: ${res.status} ${res.body}`);
    return res.body ? JSON.parse(res.body) : null;
  }

  // add changes a balance held by the ledger by delta: GET, pause, PUT.
  async function add(account, delta) {
    const q = encodeURIComponent(account);
    const { balance } = await call('GET', `/balance?account=${q}`);
    rw.read(balanceVar(account), balance, { shared: true });
    await sleep(delay);
    await call('PUT', `/balance?account=${q}&value=${balance + delta}`);
    rw.write(balanceVar(account), balance, balance + delta, { shared: true });
  }

  return async (req, res, url) => {
    if (req.method !== 'POST' || url.pathname !== '/transfer') return reply(res, 404, { error: 'not found' });
    const t = transferQuery(url);
    if (!t) return reply(res, 400, { error: 'want from, to (different) and a positive integer amount' });
    if (mode === 'fixed') {
      await call('POST', `/transfer${url.search}`);
    } else {
      await add(t.from, -t.amount);
      await add(t.to, t.amount);
    }
    return reply(res, 204);
  };
}

async function serve(args) {
  const { values: o } = parseArgs({
    args,
    options: {
      service: { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:8091' },
      ledger: { type: 'string' },
      mode: { type: 'string', default: 'racy' },
      delay: { type: 'string', default: '20' },
    },
  });
  if (!['racy', 'fixed'].includes(o.mode)) throw new Error(`--mode ${o.mode}: want racy or fixed`);
  if (!['ledger', 'teller'].includes(o.service)) throw new Error(`--service ${o.service}: want ledger or teller`);
  if (o.service === 'teller' && !o.ledger) throw new Error('the teller needs --ledger <url>');
  if (o.ledger) loopback(o.ledger);
  const { host, port } = loopback(o.listen);
  const delay = Number(o.delay);

  const tel = telemetry.start(o.service);
  const cfg = { rw: tel.rw, mode: o.mode, delay, ledgerURL: (o.ledger || '').replace(/\/$/, '') };
  const route = o.service === 'ledger' ? ledger(cfg) : teller(cfg);
  const server = http.createServer(
    tel.rw.handle(async (req, res) => {
      try {
        await route(req, res, new URL(req.url, 'http://localhost'));
      } catch (err) {
        if (!res.headersSent) reply(res, 500, { error: String(err.message || err) });
        else res.destroy(err);
      }
    }),
  );
  server.keepAliveTimeout = 1000;
  await new Promise((resolve, reject) => server.listen(port, host, resolve).on('error', reject));
  console.log(`${o.service}: listening on ${host}:${port}, ${o.mode} mode`);
  const stop = async () => {
    server.close();
    server.closeAllConnections();
    await tel.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function load(args) {
  const { values: o } = parseArgs({
    args,
    options: {
      targets: { type: 'string', default: 'http://127.0.0.1:8092,http://127.0.0.1:8091' },
      n: { type: 'string', short: 'n', default: '8' },
      concurrency: { type: 'string', default: '2' },
      from: { type: 'string', default: 'alice' },
      to: { type: 'string', default: 'bob' },
      amount: { type: 'string', default: '100' },
    },
  });
  const targets = o.targets.split(',').map((t) => t.replace(/\/$/, ''));
  targets.forEach(loopback);
  const n = Math.min(Math.max(Number(o.n) || 0, 0), 10000);
  const workers = Math.min(Math.max(Number(o.concurrency) || 1, 1), 64);
  const tel = telemetry.start('bank-load');
  const query = `from=${encodeURIComponent(o.from)}&to=${encodeURIComponent(o.to)}&amount=${Number(o.amount)}`;
  const failures = [];
  // Worker w sends transfers w, w + workers, … one after the other.
  const worker = (w) =>
    tel.rw.run(`load worker ${w}`, async () => {
      for (let j = w; j < n; j += workers) {
        const url = `${targets[j % targets.length]}/transfer?${query}`;
        await tel.tracer.startActiveSpan('transfer', async (span) => {
          try {
            const res = await tel.rw.request('POST', url);
            if (res.status !== 204) failures.push(`${url}: ${res.status} ${res.body}`);
          } catch (err) {
            failures.push(`${url}: ${err.message}`);
          } finally {
            span.end();
          }
        });
      }
    });
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  await tel.shutdown();
  console.log(`bank load: ${n} transfers from ${o.from} to ${o.to} by ${workers} workers over ${targets.length} targets, ${failures.length} failed`);
  if (failures.length > 0) throw new Error(`${failures.length} transfers failed, first: ${failures[0]}`);
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'serve') return serve(args); // runs until SIGTERM or SIGINT
  if (cmd === 'load') {
    await load(args);
    process.exit(0); // without waiting for idle keep-alive sockets
  }
  throw new Error('usage: node bank.js serve --service ledger|teller --listen host:port [--ledger url] [--mode racy|fixed] | node bank.js load [--targets url,url] [-n transfers] [--concurrency c]');
}

main().catch((err) => {
  console.error(`bank: ${err.message}`);
  process.exit(1);
});
