'use strict';
// A minimal producer of the Raceway convention (docs/semconv.md in the
// repository) on the stock OpenTelemetry JS API: logical threads and their
// epochs, reads and writes, exclusive locks with their strands, and the
// clock of HTTP calls (the raceway.clock baggage member on requests, the
// Raceway-Clock header on responses). It is written from the document
// alone, as a producer in any language would be.
//
// Threads. A request handler invocation (Raceway.handle) and a job started
// with Raceway.run are logical threads; code outside both runs on one
// "main" thread per process. A thread lives in the OpenTelemetry context,
// which Node carries across await. Two async branches that run at once
// under one thread (Promise.all inside a handler) look sequential to the
// detector: give each its own thread with Raceway.run, or their races stay
// hidden (never invented).

const crypto = require('node:crypto');
const http = require('node:http');
const { context, createContextKey, propagation, trace } = require('@opentelemetry/api');

// Limits of the convention.
const MAX_AFTER = 8; // epochs in raceway.after
const MAX_NAME = 1024; // bytes in a variable or lock name, thread name, process id
const MAX_VALUE = 1024; // bytes in raceway.value.old / .new
const MAX_LOCKS = 16; // names in raceway.locks.held
const MAX_EPOCH = 37; // bytes in an epoch's text form
// Records per span before they go to raceway.overflow spans: below the
// SDK's 128 events per span, past which it evicts the oldest.
const SPAN_RECORDS = 100;

const BAGGAGE_MEMBER = 'raceway.clock';
const RESPONSE_HEADER = 'raceway-clock'; // Raceway-Clock; Node lowercases header names

const THREAD = createContextKey('raceway thread');

// randomId returns a random non-zero 64-bit id as 16 lowercase hex digits:
// the form of thread, lock strand and process ids.
function randomId() {
  for (;;) {
    const id = crypto.randomBytes(8).toString('hex');
    if (id !== '0000000000000000') return id;
  }
}

// cut shortens s to at most n UTF-8 bytes without splitting a character.
function cut(s, n) {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= n) return s;
  let end = n;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8');
}

// parseEpoch returns an inbound clock in its canonical form
// (<16 lowercase hex digits>@<seq>), or why it is dropped.
function parseEpoch(text) {
  if (text.length > MAX_EPOCH) return { why: 'oversized' };
  const m = /^([0-9a-fA-F]{1,16})@([0-9]{1,20})$/.exec(text);
  if (!m) return { why: 'garbled' };
  const thread = BigInt('0x' + m[1]);
  const seq = BigInt(m[2]);
  if (thread === 0n || seq === 0n || seq > 0xffffffffffffffffn) return { why: 'garbled' };
  return { epoch: `${thread.toString(16).padStart(16, '0')}@${seq}` };
}

class Thread {
  constructor(origin, name, startAfter) {
    this.id = randomId();
    this.seq = 0; // records written so far
    this.origin = origin;
    this.name = cut(name, MAX_NAME);
    this.startAfter = startAfter; // epochs its thread.start comes after
    this.locks = []; // process-scoped locks held, in acquire order
  }

  latest() {
    return this.seq > 0 ? `${this.id}@${this.seq}` : '';
  }
}

// Strand is a lock's release sequence: a pseudo-thread, with an id of the
// same form as a thread's, whose n-th epoch is the lock's n-th release.
class Strand {
  constructor() {
    this.id = randomId();
    this.count = 0;
  }

  latest() {
    return this.count > 0 ? `${this.id}@${this.count}` : '';
  }

  next() {
    this.count++;
    return `${this.id}@${this.count}`;
  }
}

// Mutex is an exclusive lock for async code: lock() resolves to the
// function that releases it, in arrival order.
class Mutex {
  constructor() {
    this.tail = Promise.resolve();
  }

  lock() {
    let release;
    const held = new Promise((resolve) => (release = resolve));
    const before = this.tail;
    this.tail = before.then(() => held);
    return before.then(() => release);
  }
}

class Raceway {
  // tracer makes the raceway.orphan and raceway.overflow spans; processId
  // is written in raceway.process.id (random by default: one per process).
  constructor({ tracer, processId = randomId() }) {
    this.tracer = tracer;
    this.processId = cut(processId, MAX_NAME);
    this.main = null; // the thread of code outside handlers and jobs
    this.strands = new Map(); // lock id -> Strand (this helper has no read locks: one strand)
    this.spanRecords = new WeakMap(); // span -> records added
    this.stats = { records: 0, lost: 0, orphans: 0, overflows: 0, clocksDropped: 0 };
  }

  // current returns the logical thread of the active context.
  current() {
    const th = context.active().getValue(THREAD);
    if (th) return th;
    if (!this.main) this.main = new Thread('root', 'main', []);
    return this.main;
  }

  // run runs fn (which may be async) as a new logical thread with no
  // recorded creator (origin root), for example a worker of a load driver.
  run(name, fn) {
    const th = new Thread('root', name, []);
    return context.with(context.active().setValue(THREAD, th), fn);
  }

  // record writes a record of kind (an event name without "raceway.") on
  // the current thread, with attrs and the edges after, and returns its
  // epoch.
  record(kind, attrs = {}, after = []) {
    const th = this.current();
    const where = callSite();
    this.begin(th, where);
    return this.emit(th, kind, where, attrs, after);
  }

  // begin writes th's thread.start, its record 1, unless written already.
  begin(th, where = {}) {
    if (th.seq === 0) this.emit(th, 'thread.start', where, { 'raceway.thread.origin': th.origin, 'thread.name': th.name }, th.startAfter);
  }

  emit(th, kind, where, attrs, after) {
    th.seq++;
    const a = {
      'raceway.thread.id': th.id,
      'raceway.seq': th.seq,
      'raceway.process.id': this.processId,
      ...where,
      ...attrs,
    };
    // Edges: other threads' epochs only (an echoed clock of this thread
    // would void the record), at most MAX_AFTER, none empty.
    const edges = after.filter((e) => e && !e.startsWith(th.id + '@')).slice(0, MAX_AFTER);
    if (edges.length > 0) a['raceway.after'] = edges;
    this.addEvent('raceway.' + kind, a);
    return `${th.id}@${th.seq}`;
  }

  // addEvent puts a record on the active span, on a raceway.overflow child
  // span once the span has SPAN_RECORDS of them, or on a raceway.orphan
  // span when no span is recording; it counts the records none can take.
  addEvent(name, attrs) {
    const span = trace.getActiveSpan();
    if (span && span.isRecording()) {
      const n = (this.spanRecords.get(span) || 0) + 1;
      this.spanRecords.set(span, n);
      if (n <= SPAN_RECORDS) {
        span.addEvent(name, attrs);
        this.stats.records++;
        return;
      }
      this.stats.overflows++;
      this.oneRecordSpan('raceway.overflow', name, attrs);
      return;
    }
    this.stats.orphans++;
    this.oneRecordSpan('raceway.orphan', name, attrs);
  }

  oneRecordSpan(spanName, name, attrs) {
    const span = this.tracer.startSpan(spanName, {}, context.active());
    if (!span.isRecording()) {
      this.stats.lost++;
    } else {
      span.addEvent(name, attrs);
      this.stats.records++;
    }
    span.end();
  }

  // read records a read of variable, whose value read was value; write a
  // write from oldValue to newValue. Values are written as strings: two
  // racing writes with the same old value are classified as a lost update.
  // shared: the variable is state shared across processes, named
  // fleet-wide; otherwise it belongs to this process.
  // A value that is undefined or null is not recorded.
  read(variable, value, { shared = false } = {}) {
    return this.access('read', variable, shared, { 'raceway.value.new': value });
  }

  write(variable, oldValue, newValue, { shared = false } = {}) {
    return this.access('write', variable, shared, { 'raceway.value.old': oldValue, 'raceway.value.new': newValue });
  }

  access(kind, variable, shared, values) {
    const a = { 'raceway.var.name': cut(variable, MAX_NAME), 'raceway.var.scope': shared ? 'shared' : 'process' };
    for (const [k, v] of Object.entries(values)) {
      if (v !== undefined && v !== null) a[k] = cut(String(v), MAX_VALUE);
    }
    const locks = this.current().locks;
    if (locks.length > 0) a['raceway.locks.held'] = locks.slice(0, MAX_LOCKS);
    return this.record(kind, a);
  }

  // withLock runs fn (which may be async) holding mutex, recording the
  // acquire of lockId right after the lock is held (after the lock's
  // latest release) and its release right before it is released (the
  // strand's next epoch).
  async withLock(mutex, lockId, fn) {
    lockId = cut(lockId, MAX_NAME);
    let s = this.strands.get(lockId);
    if (!s) this.strands.set(lockId, (s = new Strand()));
    const unlock = await mutex.lock();
    const th = this.current();
    try {
      this.record('lock.acquire', { 'raceway.lock.id': lockId }, [s.latest()]);
      th.locks.push(lockId);
      return await fn();
    } finally {
      this.record('lock.release', { 'raceway.lock.id': lockId, 'raceway.sync': s.next() });
      th.locks.splice(th.locks.indexOf(lockId), 1);
      unlock();
    }
  }

  // inbound returns the canonical epoch of an inbound clock, or '' after
  // counting and logging a clock that does not parse.
  inbound(value, source) {
    const { epoch, why } = parseEpoch(String(value));
    if (epoch) return epoch;
    this.stats.clocksDropped++;
    process.stderr.write(`raceway: dropping a ${why} clock from the ${source} (${JSON.stringify(cut(String(value), 64))})\n`);
    return '';
  }

  // handle wraps an HTTP request listener: each request runs as a new
  // logical thread (origin request) that starts after the caller's send,
  // the epoch in the raceway.clock baggage member, which the HTTP
  // instrumentation extracted into the active context. The member is
  // removed from the context the listener sees (its own calls carry their
  // own). Before the response head leaves, the thread records its respond
  // and puts its epoch in the Raceway-Clock response header.
  handle(listener) {
    return (req, res) => {
      let ctx = context.active();
      const after = [];
      const bag = propagation.getBaggage(ctx);
      const member = bag && bag.getEntry(BAGGAGE_MEMBER);
      if (member) {
        after.push(this.inbound(member.value, 'baggage'));
        ctx = propagation.setBaggage(ctx, bag.removeEntry(BAGGAGE_MEMBER));
      }
      const th = new Thread('request', `${req.method} ${pathOf(req.url)}`, after);
      ctx = ctx.setValue(THREAD, th);
      const rw = this;
      const writeHead = res.writeHead;
      let responded = false;
      // res.end() without writeHead calls writeHead too.
      res.writeHead = function (...args) {
        if (!responded) {
          responded = true;
          const epoch = context.with(ctx, () => rw.record('rpc.respond'));
          if (!this.headersSent) this.setHeader(RESPONSE_HEADER, epoch);
        }
        return writeHead.apply(this, args);
      };
      return context.with(ctx, () => {
        this.begin(th);
        return listener(req, res);
      });
    };
  }

  // request sends an HTTP request from the current thread and resolves to
  // { status, headers, body }: the thread records an RPC send, whose epoch
  // rides in the raceway.clock baggage member (the HTTP instrumentation
  // injects the baggage), and, once the response has arrived, an RPC
  // response after the callee's respond named by its Raceway-Clock header.
  async request(method, url, body) {
    const send = this.record('rpc.send');
    const bag = propagation.getBaggage(context.active()) || propagation.createBaggage();
    const ctx = propagation.setBaggage(context.active(), bag.setEntry(BAGGAGE_MEMBER, { value: send }));
    const res = await context.with(ctx, () => fetchText(method, url, body));
    const clock = res.headers[RESPONSE_HEADER];
    if (clock !== undefined) {
      const e = this.inbound(clock, 'response header');
      this.record('rpc.response', {}, e ? [e] : []);
    }
    return res;
  }
}

// pathOf returns the path of a request target, without its query.
function pathOf(target) {
  const i = target.search(/[?#]/);
  return i < 0 ? target : target.slice(0, i);
}

// callSite returns the code location of the first caller outside this file,
// as OpenTelemetry's code.* attributes.
function callSite() {
  const prepare = Error.prepareStackTrace;
  Error.prepareStackTrace = (_, frames) => frames;
  const holder = {};
  Error.captureStackTrace(holder, callSite);
  const frames = holder.stack;
  Error.prepareStackTrace = prepare;
  for (const f of frames) {
    const file = f.getFileName();
    if (file && file !== __filename && !file.startsWith('node:')) {
      return {
        'code.file.path': file,
        'code.line.number': f.getLineNumber() || 0,
        'code.function.name': f.getFunctionName() || f.getMethodName() || '<anonymous>',
      };
    }
  }
  return {};
}

// fetchText sends a request with node:http (so that the HTTP
// instrumentation sees it) and reads the whole response.
function fetchText(method, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, timeout: 30_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}

module.exports = { Raceway, Mutex, randomId };
