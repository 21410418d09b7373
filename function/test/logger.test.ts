import t from 'tap';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { MIN_REDACTED_VALUE_LENGTH } from '../src/logger.js';
import { build } from '../src/testing.js';
import { startApp } from './helpers/app.js';

/** A pino child logger, and every method and property it has (own and inherited): the surface authors may rely on. */
function pinoReference(): { child: Record<string, unknown>; names: string[] } {
  const child = pino({ level: 'info' }, new Writable({ write: (_c, _e, cb) => cb() })).child({ a: 1 });
  const names = new Set<string>();
  for (let o: object | null = child; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) names.add(name);
  }
  names.delete('constructor');
  return { child: child as unknown as Record<string, unknown>, names: [...names].sort() };
}

t.test('request.log (and a Lambda context.logger) is the full pino logger Fastify documents', async (t) => {
  const seen: Record<string, unknown> = {};
  const { url, logs } = await startApp(t, {
    fn: {
      routes: async (app) => {
        app.get('/native', async (request) => {
          // Fastify types request.log as its base logger; at run time it is pino's whole Logger.
          const log = request.log as unknown as Logger;
          seen.debugEnabled = log.isLevelEnabled('debug');
          seen.infoEnabled = log.isLevelEnabled('info');
          seen.level = log.level;
          const reference = pinoReference();
          const members = log as unknown as Record<string, unknown>;
          seen.missing = reference.names.filter((name) => !(name in log));
          seen.different = reference.names.filter((name) => typeof members[name] !== typeof reference.child[name]);
          seen.levels = members.levels;
          seen.bindings = log.bindings();
          log.setBindings({ tenant: 'acme' });
          log.info('from the handler');
          log.child({ step: 'inner' }).warn('from a child');
          log.flush();
          log.level = 'debug';
          seen.debugAfter = log.isLevelEnabled('debug');
          seen.parentLevel = request.server.log.level;
          return { ok: true };
        });
      },
      handler: async (_event, context) => {
        const log = context.logger as unknown as Logger;
        seen.lambdaDebug = log.isLevelEnabled('debug');
        seen.lambdaBindings = log.bindings();
        seen.lambdaRequestId = context.awsRequestId;
        return { statusCode: 204 };
      },
    },
  });
  t.equal((await fetch(`${url}/native`)).status, 200);
  t.equal(seen.debugEnabled, false, 'isLevelEnabled answers (LOG_LEVEL=info)');
  t.equal(seen.infoEnabled, true);
  t.equal(seen.level, 'info');
  t.same(seen.missing, [], 'no member of a pino logger is missing');
  t.same(seen.different, [], 'and each is what it is on a pino logger (method, value)');
  t.match(seen.levels, { values: { info: 30, debug: 20 } });
  t.equal(seen.debugAfter, true, "the request logger's own level, once set");
  t.equal(seen.parentLevel, 'info', "and not the application's");
  t.match(seen.bindings, { request_id: /^[0-9a-f-]{36}$/ }, 'bindings() has the request id');
  const own = logs().filter((l) => l.msg === 'from the handler' || l.msg === 'from a child');
  t.equal(own.length, 2);
  for (const line of own) t.match(line, { request_id: (seen.bindings as { request_id: string }).request_id, tenant: 'acme' });
  t.match(own[1], { step: 'inner', level: 'warn' });

  t.equal((await fetch(`${url}/lambda`)).status, 204);
  t.equal(seen.lambdaDebug, false);
  t.match(seen.lambdaBindings, { request_id: seen.lambdaRequestId }, 'context.logger is the request logger');
});

t.test('a request that logs nothing gets no pino child', async (t) => {
  let children = 0;
  const { url } = await startApp(t, {
    fn: {
      routes: async (app) => {
        const child = app.log.child.bind(app.log);
        app.log.child = ((...args: Parameters<typeof child>) => {
          children += 1;
          return child(...args);
        }) as typeof app.log.child;
        app.get('/quiet', async (request) => ({ debug: (request.log as unknown as Logger).isLevelEnabled('debug'), level: request.log.level }));
      },
    },
  });
  const res = await fetch(`${url}/quiet`);
  t.same(await res.json(), { debug: false, level: 'info' });
  t.equal(children, 0);
});

t.test('secret values are kept out of log lines whatever the field, the message or the escaping', async (t) => {
  const TOKEN = 'p4rtner-t0ken-value';
  const QUOTED = 'pa"ss\\word-with-escapes';
  const fn = await build(
    {
      routes: async (app) => {
        app.get('/leaky', async (request) => {
          const token = app.secrets.get('PARTNER_TOKEN') ?? '';
          request.log.info({ partner: { apiToken: token }, list: [token], quoted: app.secrets.get('DB_PASSWORD') }, `calling with ${token}`);
          request.log.error(new Error(`upstream refused ${token}`), 'upstream failed');
          app.log.warn({ short: app.secrets.get('SHORT') }, 'short values are left alone');
          return { ok: true };
        });
      },
    },
    { secrets: { PARTNER_TOKEN: TOKEN, DB_PASSWORD: QUOTED, SHORT: 'abc' } },
  );
  t.teardown(() => fn.close());
  t.equal((await fn.app.inject({ url: '/leaky' })).statusCode, 200);
  const raw = JSON.stringify(fn.logs());
  t.notMatch(raw, 'p4rtner', 'the token is in no line: fields, arrays, messages, error messages and stacks');
  t.notMatch(raw, 'with-escapes', 'a value with characters JSON escapes is found in its escaped form');
  const line = fn.logs().find((l) => l.msg === 'calling with [Redacted]');
  t.match(line, { partner: { apiToken: '[Redacted]' }, list: ['[Redacted]'], quoted: '[Redacted]' });
  t.match(fn.logs().find((l) => l.msg === 'short values are left alone'), { short: 'abc' }, `values under ${MIN_REDACTED_VALUE_LENGTH} characters are not searched for`);
});
